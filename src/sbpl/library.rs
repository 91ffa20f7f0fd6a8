//! Apple's SBPL library (version 1) as macOS 10.15 defines it, written here
//! from its documented behaviour: the alias table, the no-op
//! operations, `path-ancestors`, `_IO` and the small
//! procedures that stand for a filter. The evaluator ([`super::eval`])
//! implements the directives (`import`, `trace`, `with-filter`,
//! `with-operations`, `with-modifier`, `define-storage-class`,
//! `require-entitlement`, `entitlement-value`) with these tables.
//!
//! Aliases are resolved lazily and last: a name the profile binds, or one
//! the compiler knows as a filter, operation or modifier, wins over the
//! alias, so an alias whose target this compiler lacks costs nothing until
//! a profile uses it, and the error then names the target.

/// What a library name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    /// Another name for an operation, filter, modifier or procedure.
    Name(&'static str),
    /// An operation the library maps to `'no-op`: a rule naming it gains
    /// no operation from it.
    NoOp,
    /// A symbol that evaluates to itself (`unix`, `unix-socket`).
    Symbol(&'static str),
}

const ALIASES: &[(&str, Alias)] = &[
    // Filters.
    ("literal", Alias::Name("path")),
    ("path-literal", Alias::Name("path")),
    ("path-prefix", Alias::Name("prefix")),
    ("regex", Alias::Name("path-regex")),
    ("mount-relative-literal", Alias::Name("mount-relative-path")),
    (
        "mount-relative-regex",
        Alias::Name("mount-relative-path-regex"),
    ),
    ("from", Alias::Name("local")),
    ("to", Alias::Name("remote")),
    ("granted-extensions", Alias::Name("extension")),
    ("mach-extension", Alias::Name("extension")),
    (
        "iokit-user-client-class",
        Alias::Name("iokit-registry-entry-class"),
    ),
    (
        "iokit-user-client-class-regex",
        Alias::Name("iokit-registry-entry-class-regex"),
    ),
    // Procedures.
    ("getenv", Alias::Name("param")),
    // Operations.
    ("file-fsctl", Alias::Name("system-fsctl")),
    ("ipc-posix-sem", Alias::Name("ipc-posix-sem*")),
    ("ipc-posix-shm", Alias::Name("ipc-posix-shm*")),
    ("sysctl-write", Alias::Name("sysctl*")),
    ("system-misc", Alias::Name("system*")),
    ("time-set", Alias::Name("system-set-time")),
    ("file-issue-extension*", Alias::Name("file-issue-extension")),
    (
        "file-issue-extension-read",
        Alias::Name("file-issue-extension"),
    ),
    (
        "file-issue-extension-write",
        Alias::Name("file-issue-extension"),
    ),
    ("file-unlink", Alias::Name("file-write-unlink")),
    ("file-write-mount", Alias::Name("file-mount")),
    ("file-write-unmount", Alias::Name("file-unmount")),
    ("file-write-umount", Alias::Name("file-unmount")),
    ("process-exec", Alias::Name("process-exec*")),
    (
        "managed-preference*",
        Alias::Name("managed-preference-read"),
    ),
    (
        "ipc-posix-shm-read*",
        Alias::Name("ipc-posix-shm-read-data"),
    ),
    ("ipc-posix-shm-read-metadata", Alias::NoOp),
    ("mach-per-user-lookup", Alias::NoOp),
    ("system-chud", Alias::NoOp),
    ("qtn-download", Alias::NoOp),
    // Modifiers.
    ("no-profile", Alias::Name("no-sandbox")),
    ("no-log", Alias::Name("no-report")),
    ("rootless-modifier", Alias::Name("rootless")),
    // The old spelling of unix-domain socket addresses:
    // `(remote unix-socket (path-literal "/p"))`.
    ("unix", Alias::Symbol("unix")),
    ("unix-socket", Alias::Symbol("unix")),
];

/// The alias `name` is, if the library defines it.
pub fn alias(name: &str) -> Option<Alias> {
    ALIASES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// Every alias name, for "did you mean" hints.
pub fn alias_names() -> impl Iterator<Item = &'static str> {
    ALIASES.iter().map(|(n, _)| *n)
}

/// Sandbox options a profile may ask for with a call of no arguments. They
/// configure how the sandbox reports (no blob bytes) [model].
pub const SANDBOX_OPTIONS: &[&str] = &[
    "disable-callouts",
    "disable-full-symbolication",
    "eliminate-duplicate-rules",
];

/// Procedures the library defines in Scheme in terms of filters, written
/// here as SBPL and evaluated lazily (only when called). Names only: each
/// body is a single filter call.
pub const FILTER_PROCEDURES: &[(&str, &str)] = &[
    ("tty", "(vnode-type TTY)"),
    ("debug-mode", "(system-attribute sandbox-debug-mode)"),
    ("process-is-plugin", "(process-attribute is-plugin)"),
    ("process-is-installer", "(process-attribute is-installer)"),
    ("datavault-file-filter", "(file-attribute datavault)"),
    ("rootless-file-filter", "(file-attribute sip-protected)"),
];

/// The directories above each path, as `path-ancestors` gives them: for
/// `/a/b/c` that is `/`, `/a`, `/a/b` (a trailing `/` names the same
/// directory: `/a/b/` gives `/`, `/a`). A path starting with `${` (a
/// variable, as in `${HOME}/x`) yields the prefixes ending before each of
/// its slashes. Any other path is an error.
pub fn path_ancestors(path: &str) -> Result<Vec<String>, String> {
    if !(path.starts_with('/') || path.starts_with("${")) {
        return Err(format!(
            "path-ancestors: path must start with a /, got {path:?}"
        ));
    }
    let with_slash = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let mut dirs: Vec<String> = with_slash
        .match_indices('/')
        .map(|(pos, _)| {
            if pos == 0 {
                "/".to_owned()
            } else {
                with_slash[..pos].to_owned()
            }
        })
        .collect();
    // The last slash closes the path itself, which is not its own ancestor.
    dirs.pop();
    Ok(dirs)
}

/// `text` with every regex metacharacter escaped, so a regex matches it
/// literally (`regex-quote`).
pub fn regex_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '.' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `(_IO "g" n)`: an ioctl / fsctl command number with no argument,
/// Darwin's `_IO(g, n)` = `n + 256 * g`, `g` being the group character.
pub fn io_command(group: &str, n: i64) -> Result<i64, String> {
    let mut chars = group.chars();
    match (chars.next(), chars.next()) {
        (Some(g), None) => Ok(n + 256 * i64::from(u32::from(g))),
        _ => Err(format!(
            "_IO takes a one-character group string, got {group:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors() {
        assert_eq!(path_ancestors("/a/b/c").unwrap(), ["/", "/a", "/a/b"]);
        assert_eq!(path_ancestors("/a/b/").unwrap(), ["/", "/a"]);
        assert_eq!(path_ancestors("/").unwrap(), Vec::<String>::new());
        assert_eq!(
            path_ancestors("${HOME}/Library/x").unwrap(),
            ["${HOME}", "${HOME}/Library"]
        );
        assert!(path_ancestors("rel/x")
            .unwrap_err()
            .contains("must start with a /"));
    }

    #[test]
    fn quoting_and_io() {
        assert_eq!(regex_quote("/a.b/c+d(1)"), r"/a\.b/c\+d\(1\)");
        assert_eq!(regex_quote("plain/path"), "plain/path");
        assert_eq!(io_command("h", 4), Ok(4 + 256 * 104));
        assert!(io_command("hh", 4).is_err());
    }

    #[test]
    fn aliases_resolve_last() {
        assert_eq!(alias("no-log"), Some(Alias::Name("no-report")));
        assert_eq!(alias("qtn-download"), Some(Alias::NoOp));
        assert_eq!(alias("unix-socket"), Some(Alias::Symbol("unix")));
        assert_eq!(alias("subpath"), None);
    }
}
