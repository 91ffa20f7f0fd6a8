//! `#` preprocessor lines, as Apple's SBPL sources that go through the C
//! preprocessor write them (WebKit's `*.sb.in`, some system profiles):
//! `#include "FILE"`, `#if EXPR` / `#ifdef` / `#ifndef` / `#elif` / `#else` /
//! `#endif`, `#define NAME [VALUE]`, `#undef`, and `#pragma` / `#error` /
//! `#warning`.
//!
//! The pass keeps every line where it was, so spans still name the line of
//! the original file: directive lines and lines in a false branch become
//! blank, and `#include "FILE"` becomes `(import "FILE")` (the included
//! profile is evaluated in the same global environment, which is what
//! textual inclusion gives a Scheme profile). Names in `#if` expand to
//! their `#define`d value, an unknown name is 0 and an unknown function-like
//! name (`PLATFORM(MAC)`, `ENABLE(X)`) is 0, as for a compiler that defines
//! none of them [model]. Defines are not substituted into SBPL text.
//!
//! A line is a directive only when `#` (after blanks) is followed by one of
//! those words, so `#t`, `#f`, `#"..."`, `#|` and `#;` are left to the reader.

use super::reader::{ReadError, Span};
use std::collections::HashMap;

const DIRECTIVES: &[&str] = &[
    "include", "import", "if", "ifdef", "ifndef", "elif", "else", "endif", "define", "undef",
    "pragma", "error", "warning", "line",
];

/// One open `#if`: whether its current branch is live, whether any branch
/// was taken, and where it opened.
struct Cond {
    live: bool,
    taken: bool,
    span: Span,
}

/// `src` with its directive lines applied (see the module doc). Text with
/// no directive comes back unchanged.
pub fn run(src: &str) -> Result<String, ReadError> {
    if !src.lines().any(|l| directive(l).is_some()) {
        return Ok(src.to_owned());
    }
    let mut defines: HashMap<String, String> = HashMap::new();
    let mut stack: Vec<Cond> = Vec::new();
    let mut out = String::with_capacity(src.len());
    for (i, line) in src.split_inclusive('\n').enumerate() {
        let span = Span {
            line: i as u32 + 1,
            column: line.len() as u32 - line.trim_start().len() as u32 + 1,
        };
        let live = stack.iter().all(|c| c.live);
        let newline = if line.ends_with('\n') { "\n" } else { "" };
        let Some((word, rest)) = directive(line) else {
            out.push_str(if live { line } else { newline });
            continue;
        };
        let rest = strip_comment(rest);
        match word {
            "if" | "ifdef" | "ifndef" => {
                let holds = live && condition(word, rest, &defines, span)?;
                stack.push(Cond {
                    live: holds,
                    taken: holds,
                    span,
                });
            }
            "elif" | "else" => {
                let outer_live = stack.len() < 2 || stack[..stack.len() - 1].iter().all(|c| c.live);
                let Some(top) = stack.last_mut() else {
                    return err(span, format!("#{word} without #if"));
                };
                let holds = !top.taken
                    && outer_live
                    && (word == "else" || condition("if", rest, &defines, span)?);
                top.live = holds;
                top.taken |= holds;
            }
            "endif" if stack.pop().is_none() => return err(span, "#endif without #if"),
            "endif" => {}
            _ if !live => {}
            "define" => {
                let (name, value) = split_word(rest);
                if name.is_empty() {
                    return err(span, "#define needs a name");
                }
                defines.insert(name.to_owned(), value.trim().to_owned());
            }
            "undef" => {
                defines.remove(split_word(rest).0);
            }
            "include" | "import" => {
                let name = rest.trim();
                let file = name
                    .strip_prefix('"')
                    .and_then(|n| n.strip_suffix('"'))
                    .or_else(|| name.strip_prefix('<').and_then(|n| n.strip_suffix('>')));
                match file {
                    Some(f) if !f.contains(['"', '\\']) => {
                        out.push_str(&format!("(import \"{f}\")"));
                    }
                    _ => {
                        return err(
                            span,
                            format!("#{word} takes \"FILE\" or <FILE>, got {name}"),
                        )
                    }
                }
            }
            "error" => return err(span, format!("#error {}", rest.trim())),
            _ => {} // pragma, warning, line: nothing to do for a profile
        }
        out.push_str(newline);
    }
    match stack.first() {
        Some(open) => err(open.span, "#if without #endif"),
        None => Ok(out),
    }
}

fn err<T>(span: Span, message: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError {
        span,
        message: message.into(),
    })
}

/// The directive word and the rest of the line, when `line` is a directive.
fn directive(line: &str) -> Option<(&str, &str)> {
    let after = line
        .trim_start()
        .strip_prefix('#')?
        .trim_start_matches([' ', '\t']);
    let (word, rest) = split_word(after);
    DIRECTIVES
        .iter()
        .find(|d| **d == word)
        .map(|d| (*d, rest.trim_end_matches(['\n', '\r'])))
}

fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// The directive's text without a trailing `//` or `/* */` comment.
fn strip_comment(text: &str) -> &str {
    let cut = [text.find("//"), text.find("/*")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(text.len());
    &text[..cut]
}

fn condition(
    word: &str,
    rest: &str,
    defines: &HashMap<String, String>,
    span: Span,
) -> Result<bool, ReadError> {
    match word {
        "ifdef" | "ifndef" => {
            let name = split_word(rest).0;
            if name.is_empty() {
                return err(span, format!("#{word} needs a name"));
            }
            Ok(defines.contains_key(name) == (word == "ifdef"))
        }
        _ => {
            let tokens = tokenize(rest).map_err(|m| ReadError { span, message: m })?;
            let mut p = Parser {
                tokens,
                pos: 0,
                defines,
                depth: 0,
                nest: 0,
            };
            let v = p.expr(0).map_err(|m| ReadError {
                span,
                message: format!("bad #if expression {:?}: {m}", rest.trim()),
            })?;
            if p.pos != p.tokens.len() {
                return err(span, format!("bad #if expression {:?}", rest.trim()));
            }
            Ok(v != 0)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "&&", "||", "==", "!=", "<=", ">=", "<<", ">>", "<", ">", "!", "(", ")", "+", "-", "*", "/",
    "%", "&", "|", "^", "~", ",", "?", ":",
];

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            rest = rest.trim_start();
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            let digits = rest[..end].trim_end_matches(['u', 'U', 'l', 'L']);
            let n = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i64::from_str_radix(hex, 16),
                None => digits.parse(),
            }
            .map_err(|_| format!("bad number {}", &rest[..end]))?;
            out.push(Tok::Num(n));
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let (name, after) = split_word(rest);
            out.push(Tok::Name(name.to_owned()));
            rest = after;
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            out.push(Tok::Op(op));
            rest = &rest[op.len()..];
        } else {
            return Err(format!("unexpected {c:?} in #if"));
        }
    }
    Ok(out)
}

/// Deepest nesting of `(`, `!`, `-` in one `#if` expression.
const MAX_NEST: usize = 200;

/// Precedence climbing over C's integer operators.
struct Parser<'a> {
    tokens: Vec<Tok>,
    pos: usize,
    defines: &'a HashMap<String, String>,
    /// Bounds the expansion of names defined in terms of each other.
    depth: usize,
    /// Bounds nested parentheses and unary operators (hostile input).
    nest: usize,
}

fn binary_precedence(op: &str) -> Option<u8> {
    Some(match op {
        "||" => 1,
        "&&" => 2,
        "|" => 3,
        "^" => 4,
        "&" => 5,
        "==" | "!=" => 6,
        "<" | ">" | "<=" | ">=" => 7,
        "<<" | ">>" => 8,
        "+" | "-" => 9,
        "*" | "/" | "%" => 10,
        _ => return None,
    })
}

impl Parser<'_> {
    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(op)) => Some(op),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        match self.next() {
            Some(Tok::Op(o)) if o == op => Ok(()),
            _ => Err(format!("expected {op}")),
        }
    }

    fn expr(&mut self, min: u8) -> Result<i64, String> {
        let mut left = self.unary()?;
        while let Some(op) = self.peek_op() {
            let Some(prec) = binary_precedence(op) else {
                break;
            };
            if prec < min.max(1) {
                break;
            }
            self.pos += 1;
            let right = self.expr(prec + 1)?;
            left = apply(op, left, right)?;
        }
        if min == 0 && self.peek_op() == Some("?") {
            self.pos += 1;
            let a = self.expr(0)?;
            self.expect(":")?;
            let b = self.expr(0)?;
            return Ok(if left != 0 { a } else { b });
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<i64, String> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            return Err(format!("nested deeper than {MAX_NEST}"));
        }
        let v = self.unary_inner();
        self.nest -= 1;
        v
    }

    fn unary_inner(&mut self) -> Result<i64, String> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(n),
            Some(Tok::Op("!")) => Ok(i64::from(self.unary()? == 0)),
            Some(Tok::Op("-")) => Ok(self.unary()?.wrapping_neg()),
            Some(Tok::Op("+")) => self.unary(),
            Some(Tok::Op("~")) => Ok(!self.unary()?),
            Some(Tok::Op("(")) => {
                let v = self.expr(0)?;
                self.expect(")")?;
                Ok(v)
            }
            Some(Tok::Name(name)) if name == "defined" => self.defined(),
            Some(Tok::Name(name)) => self.name(&name),
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end".into()),
        }
    }

    fn defined(&mut self) -> Result<i64, String> {
        let paren = self.peek_op() == Some("(");
        if paren {
            self.pos += 1;
        }
        let Some(Tok::Name(name)) = self.next() else {
            return Err("defined needs a name".into());
        };
        if paren {
            self.expect(")")?;
        }
        Ok(i64::from(self.defines.contains_key(&name)))
    }

    /// A name: its defined value, or 0; `NAME(...)` of an unknown
    /// function-like macro is 0 with its arguments skipped.
    fn name(&mut self, name: &str) -> Result<i64, String> {
        if self.peek_op() == Some("(") && !self.defines.contains_key(name) {
            let mut depth = 0usize;
            while let Some(t) = self.next() {
                match t {
                    Tok::Op("(") => depth += 1,
                    Tok::Op(")") => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(0);
                        }
                    }
                    _ => {}
                }
            }
            return Err(format!("unclosed {name}("));
        }
        let Some(value) = self.defines.get(name) else {
            return Ok(0);
        };
        if value.is_empty() {
            return Ok(0);
        }
        if self.depth > 32 {
            return Err(format!("{name} expands into itself"));
        }
        let mut inner = Parser {
            tokens: tokenize(value)?,
            pos: 0,
            defines: self.defines,
            depth: self.depth + 1,
            nest: self.nest,
        };
        let v = inner.expr(0)?;
        if inner.pos != inner.tokens.len() {
            return Err(format!("{name} is not an integer expression"));
        }
        Ok(v)
    }
}

fn apply(op: &str, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        "||" => i64::from(a != 0 || b != 0),
        "&&" => i64::from(a != 0 && b != 0),
        "|" => a | b,
        "^" => a ^ b,
        "&" => a & b,
        "==" => i64::from(a == b),
        "!=" => i64::from(a != b),
        "<" => i64::from(a < b),
        ">" => i64::from(a > b),
        "<=" => i64::from(a <= b),
        ">=" => i64::from(a >= b),
        "<<" => a.wrapping_shl(b as u32),
        ">>" => a.wrapping_shr(b as u32),
        "+" => a.wrapping_add(b),
        "-" => a.wrapping_sub(b),
        "*" => a.wrapping_mul(b),
        "/" | "%" if b == 0 => return Err("division by zero".into()),
        "/" => a.wrapping_div(b),
        "%" => a.wrapping_rem(b),
        _ => return Err(format!("unknown operator {op}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_directives_is_unchanged() {
        let src = "(version 1)\n#t #f #\"x\" #| c |#\n";
        assert_eq!(run(src).unwrap(), src);
    }

    #[test]
    fn conditionals_keep_line_numbers() {
        let src = "#define A 2\n#if A >= 2 && !defined(B)\nyes\n#else\nno\n#endif\n\
                   #ifdef B\nb\n#elif PLATFORM(MAC) || A == 2\nelif\n#endif\nend";
        assert_eq!(run(src).unwrap(), "\n\nyes\n\n\n\n\n\n\nelif\n\nend");
        let nested = "#if 0\n#if 1\nx\n#endif\n#else\ny\n#endif\n";
        assert_eq!(run(nested).unwrap(), "\n\n\n\n\ny\n\n");
    }

    #[test]
    fn include_becomes_an_import() {
        assert_eq!(
            run("  #include \"common.sb\" // shared\n(x)").unwrap(),
            "(import \"common.sb\")\n(x)"
        );
        assert_eq!(run("#if 0\n#include <a.sb>\n#endif").unwrap(), "\n\n");
    }

    #[test]
    fn errors_name_the_line() {
        let e = run("(a)\n#if 1\n(b)\n").unwrap_err();
        assert_eq!(e.to_string(), "2:1: #if without #endif");
        assert_eq!(
            run("#endif").unwrap_err().to_string(),
            "1:1: #endif without #if"
        );
        let e = run("\n#if (1\n#endif").unwrap_err();
        assert!(e.to_string().starts_with("2:1: bad #if expression"), "{e}");
        assert_eq!(
            run("#error no\n").unwrap_err().to_string(),
            "1:1: #error no"
        );
        assert!(run("#define X X\n#if X\n#endif").is_err());
        assert!(run("#if 1/0\n#endif").is_err());
        let deep = format!("#if {}1\n#endif", "(".repeat(100_000));
        assert!(run(&deep).unwrap_err().message.contains("nested deeper"));
        let deep = format!("#if {}1\n#endif", "!".repeat(100_000));
        assert!(run(&deep).is_err());
    }
}
