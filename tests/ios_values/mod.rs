//! What the decoder and pattern-guard tests share: loading the Apple blobs,
//! values for the iOS platform profiles' variables, and strings built from a
//! pattern's paths.

use sbcheck::blob::pattern::Atom;
use sbcheck::blob::Profile;
use std::path::PathBuf;

/// A file under profiles/apple.
pub fn apple(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple")
        .join(rel)
}

/// The blob at `rel` under profiles/apple, decoded; one that does not decode
/// panics with its name.
pub fn load(rel: &str) -> Profile {
    let bytes = std::fs::read(apple(rel)).unwrap();
    Profile::decode(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Values for the iOS profiles' variables; a name may repeat (several
/// values). The first value of each name is the "given once" value.
pub const VALUES: &[(&str, &[u8])] = &[
    ("HOME", b"/private/var/mobile"),
    ("HOME", b"/var/root"),
    ("FRONT_USER_HOME", b"/private/var/mobile"),
    ("ANY_USER_HOME", b"/private/var/mobile"),
    ("ANY_USER_HOME", b"/private/var/Users/bob"),
    ("ANY_UUID", b"01234567-89AB-CDEF-0123-456789ABCDEF"),
    // macOS 15's variables (lower case in its blob).
    ("any_user_home", b"/Users/bob"),
    ("any_user_home", b"/var/root"),
    ("any_uuid", b"01234567-89AB-CDEF-0123-456789ABCDEF"),
    ("any_path_component", b"Component"),
    ("ENTITLEMENT:com.apple.trial.client", b"trial"),
    (
        "ENTITLEMENT:com.apple.security.exception.iokit-user-client-class",
        b"IOClass",
    ),
    (
        "ENTITLEMENT:com.apple.security.iokit-user-client-class",
        b"IOClass",
    ),
];

/// Values of variables by index in the profile's table.
pub type Values = Vec<(u8, &'static [u8])>;

/// Every value of every variable the profile has, by index.
pub fn all_values(p: &Profile) -> Values {
    VALUES
        .iter()
        .filter_map(|(n, v)| {
            let k = p.global_vars.iter().position(|g| g.name == *n)?;
            Some((k as u8, *v))
        })
        .collect()
}

/// A string that satisfies a path of atoms (classes take their first
/// printable member; `variant` picks variable values and star counts).
pub fn sample(path: &[Atom], values: &[(u8, &[u8])], variant: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for a in path {
        match a {
            Atom::Lit(b) => s.extend_from_slice(b),
            Atom::Var(k) => {
                let vs: Vec<&[u8]> = values
                    .iter()
                    .filter(|(v, _)| v == k)
                    .map(|(_, x)| *x)
                    .collect();
                s.extend_from_slice(vs.get(variant % vs.len().max(1)).unwrap_or(&&b"/v"[..]));
            }
            Atom::Class(set) | Atom::Star(set) => {
                let c = (0x20u8..0x7f).find(|&c| set.contains(c)).unwrap_or(b'a');
                let n = if matches!(a, Atom::Star(_)) {
                    variant % 3
                } else {
                    1
                };
                s.extend(std::iter::repeat(c).take(n));
            }
            Atom::SkipTo(c) => s.extend_from_slice(&[b'x', b'y', *c]),
            Atom::Search(c) => s.extend_from_slice(&[b'q', *c, b'z', *c]),
            Atom::End => {}
        }
    }
    s
}
