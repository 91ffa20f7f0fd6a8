//! Path patterns in the data area.
//!
//! The full bytecode (tries of many literals, classes, variables, searches)
//! is decoded by [`Program`] and rendered back to SBPL forms by
//! [`forms`](super::forms::forms). [`Pattern`] is the compiler's view: the
//! three shapes `literal`, `subpath` and `prefix` compile to (one filter id;
//! the bytecode tells them apart).
//!
//! ```text
//! literal  /tmp/foo   <lit "/tmp/foo"> 0f 00 0f 0a           must reach end of string
//! subpath  /tmp/foo   <lit "/tmp/foo"> 0f 40 "/" 80 0a 00 0f 0a   then "/" or end of string
//! prefix   /tmp/foo   <lit "/tmp/foo"> 0f 0a                 success, no end check
//! <lit s>             0x40 + len(s) - 1, then the bytes (1..=64 bytes a chunk)
//! ```

pub use super::forms::{forms, Atom, Form, FormKind};
pub use super::program::{Match, Program};
use std::fmt;

/// A decoded path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Literal(Vec<u8>),
    Subpath(Vec<u8>),
    Prefix(Vec<u8>),
    /// Bytecode of a shape this decoder does not interpret; matching it is
    /// undetermined rather than guessed.
    Other(Vec<u8>),
}

const LIT_BASE: u8 = 0x40;
const LIT_MAX: usize = 64;
const SEP: u8 = 0x0f;
const END: u8 = 0x00;
const SUCCESS: u8 = 0x0a;
const LITERAL_TAIL: [u8; 4] = [SEP, END, SEP, SUCCESS];
const SUBPATH_TAIL: [u8; 8] = [SEP, LIT_BASE, b'/', 0x80, SUCCESS, END, SEP, SUCCESS];
const PREFIX_TAIL: [u8; 2] = [SEP, SUCCESS];

impl Pattern {
    /// Recognises the literal / subpath / prefix shapes.
    pub fn decode(code: &[u8]) -> Pattern {
        let Some((text, tail)) = read_literal_run(code) else {
            return Pattern::Other(code.to_vec());
        };
        match tail {
            t if t == LITERAL_TAIL => Pattern::Literal(text),
            t if t == SUBPATH_TAIL => Pattern::Subpath(text),
            t if t == PREFIX_TAIL => Pattern::Prefix(text),
            _ => Pattern::Other(code.to_vec()),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let (text, tail): (&[u8], &[u8]) = match self {
            Pattern::Literal(t) => (t, &LITERAL_TAIL),
            Pattern::Subpath(t) => (t, &SUBPATH_TAIL),
            Pattern::Prefix(t) => (t, &PREFIX_TAIL),
            Pattern::Other(code) => return code.clone(),
        };
        let mut out = Vec::with_capacity(text.len() + text.len() / LIT_MAX + 1 + tail.len());
        for chunk in text.chunks(LIT_MAX) {
            out.push(LIT_BASE + (chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(tail);
        out
    }

    /// Whether `path` matches; `None` when the pattern is not interpreted.
    pub fn matches(&self, path: &[u8]) -> Option<bool> {
        Some(match self {
            Pattern::Literal(t) => path == t.as_slice(),
            Pattern::Subpath(t) => {
                path.strip_prefix(t.as_slice())
                    .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
                    // (subpath "/") covers everything below the root.
                    || (t.last() == Some(&b'/') && path.starts_with(t))
            }
            Pattern::Prefix(t) => path.starts_with(t),
            Pattern::Other(_) => return None,
        })
    }

    /// The SBPL filter form, e.g. `(subpath "/tmp/foo")`.
    pub fn sbpl(&self) -> String {
        match self {
            Pattern::Literal(t) => format!("(literal {})", quote(t)),
            Pattern::Subpath(t) => format!("(subpath {})", quote(t)),
            Pattern::Prefix(t) => format!("(prefix {})", quote(t)),
            Pattern::Other(code) => format!("(pattern #x{})", hex(code)),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sbpl())
    }
}

/// Reads consecutive `0x40 + n` literal chunks; returns the text and the rest.
fn read_literal_run(code: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut text = Vec::new();
    let mut rest = code;
    while let Some((&op, after)) = rest.split_first() {
        if !(LIT_BASE..LIT_BASE + LIT_MAX as u8).contains(&op) {
            break;
        }
        let n = usize::from(op - LIT_BASE) + 1;
        if after.len() < n {
            return None;
        }
        text.extend_from_slice(&after[..n]);
        rest = &after[n..];
    }
    (!text.is_empty()).then_some((text, rest))
}

pub(crate) fn quote(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn apple_literal_vector_round_trips() {
        // From Apple's baseline_deny_all blob (macOS 14.4.1), data[0].
        let mut code = vec![0x54];
        code.extend_from_slice(b"/tmp/sbpl_rt/read.txt");
        code.extend_from_slice(&[0x0f, 0x00, 0x0f, 0x0a]);
        let p = Pattern::decode(&code);
        assert_eq!(p, Pattern::Literal(b"/tmp/sbpl_rt/read.txt".to_vec()));
        assert_eq!(p.encode(), code);
    }

    #[test]
    fn long_text_is_split_into_chunks() {
        let text = vec![b'a'; 100];
        let p = Pattern::Prefix(text.clone());
        let code = p.encode();
        assert_eq!(code[0], 0x7f);
        assert_eq!(code[65], 0x40 + 35);
        assert_eq!(Pattern::decode(&code), p);
    }

    #[rstest]
    #[case::exact("/tmp/foo", true)]
    #[case::child("/tmp/foo/x", true)]
    #[case::sibling("/tmp/foobar", false)]
    #[case::parent("/tmp", false)]
    fn subpath_matches_the_directory_and_below(#[case] path: &str, #[case] expected: bool) {
        let p = Pattern::Subpath(b"/tmp/foo".to_vec());
        assert_eq!(p.matches(path.as_bytes()), Some(expected));
    }

    #[rstest]
    #[case::literal(Pattern::Literal(b"/etc/hosts".to_vec()), "/etc/hosts", "/etc/hosts2")]
    #[case::prefix(Pattern::Prefix(b"/etc/ho".to_vec()), "/etc/hosts", "/etc/h")]
    fn literal_and_prefix(#[case] p: Pattern, #[case] yes: &str, #[case] no: &str) {
        assert_eq!(p.matches(yes.as_bytes()), Some(true));
        assert_eq!(p.matches(no.as_bytes()), Some(false));
        assert_eq!(Pattern::decode(&p.encode()), p);
    }

    #[test]
    fn unknown_bytecode_is_undetermined() {
        let p = Pattern::decode(&[0x03, b'/', 0x0a]);
        assert_eq!(p.matches(b"/x"), None);
    }
}
