//! The SBPL reader: text to s-expressions with line:column spans.

use std::fmt;

/// A position in the source, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    List(Vec<Sexp>),
    Symbol(String),
    Str(String),
    /// `#"..."`: a regex literal.
    Regex(String),
    Int(i64),
    Bool(bool),
    /// `#\a`, `#\space`: a character, as `string-ref` returns.
    Char(char),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sexp {
    pub datum: Datum,
    pub span: Span,
}

impl Sexp {
    pub fn symbol(&self) -> Option<&str> {
        match &self.datum {
            Datum::Symbol(s) => Some(s),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&[Sexp]> {
        match &self.datum {
            Datum::List(items) => Some(items),
            _ => None,
        }
    }

    /// The head symbol of a list form, e.g. `allow` in `(allow ...)`.
    pub fn head(&self) -> Option<&str> {
        self.list()?.first()?.symbol()
    }
}

impl fmt::Display for Sexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.datum {
            Datum::List(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Datum::Symbol(s) => f.write_str(s),
            Datum::Str(s) => write!(f, "{s:?}"),
            Datum::Regex(s) => write!(f, "#{s:?}"),
            Datum::Int(i) => write!(f, "{i}"),
            Datum::Bool(b) => f.write_str(if *b { "#t" } else { "#f" }),
            Datum::Char(c) => write!(f, "#\\{}", char_name(*c)),
        }
    }
}

/// A syntax error at a place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub span: Span,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.span, self.message)
    }
}

impl std::error::Error for ReadError {}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    column: u32,
}

/// Reads every top-level form of `src`, after its `#` preprocessor lines
/// (see [`super::preprocess`]).
pub fn read(src: &str) -> Result<Vec<Sexp>, ReadError> {
    let text = super::preprocess::run(src)?;
    let mut lx = Lexer {
        src: text.as_bytes(),
        pos: 0,
        line: 1,
        column: 1,
    };
    let mut forms = Vec::new();
    loop {
        lx.skip_blank()?;
        if lx.peek().is_none() {
            return Ok(forms);
        }
        forms.push(lx.datum(0)?);
    }
}

/// Deeper nesting than any real profile; bounds recursion on hostile input.
const MAX_DEPTH: usize = 256;

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn span(&self) -> Span {
        Span {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.column = 1;
        } else if c & 0xc0 != 0x80 {
            // Count characters, not UTF-8 continuation bytes.
            self.column += 1;
        }
        Some(c)
    }

    fn error<T>(&self, span: Span, message: impl Into<String>) -> Result<T, ReadError> {
        Err(ReadError {
            span,
            message: message.into(),
        })
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    /// Skips whitespace, `;` line comments, `#| ... |#` block comments
    /// (nested) and `#;` datum comments.
    fn skip_blank(&mut self) -> Result<(), ReadError> {
        while let Some(c) = self.peek() {
            match (c, self.peek_at(1)) {
                (b';', _) => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.bump();
                    }
                }
                (b'#', Some(b'|')) => self.block_comment()?,
                (b'#', Some(b';')) => {
                    self.bump();
                    self.bump();
                    self.skip_blank()?;
                    self.datum(0)?;
                }
                (c, _) if c.is_ascii_whitespace() => {
                    self.bump();
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    fn block_comment(&mut self) -> Result<(), ReadError> {
        let span = self.span();
        let mut depth = 0usize;
        loop {
            match (self.peek(), self.peek_at(1)) {
                (None, _) => return self.error(span, "unterminated #| comment opened here"),
                (Some(b'#'), Some(b'|')) => {
                    depth += 1;
                    self.bump();
                    self.bump();
                }
                (Some(b'|'), Some(b'#')) => {
                    self.bump();
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn datum(&mut self, depth: usize) -> Result<Sexp, ReadError> {
        let span = self.span();
        if depth > MAX_DEPTH {
            return self.error(span, format!("forms nested deeper than {MAX_DEPTH}"));
        }
        let datum = match self.peek() {
            None => return self.error(span, "unexpected end of input"),
            Some(b'(') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_blank()?;
                    match self.peek() {
                        None => return self.error(span, "unclosed '(' opened here"),
                        Some(b')') => {
                            self.bump();
                            break;
                        }
                        Some(_) => items.push(self.datum(depth + 1)?),
                    }
                }
                Datum::List(items)
            }
            Some(b')') => return self.error(span, "unexpected ')'"),
            Some(b'"') => Datum::Str(self.string()?),
            Some(b'\'') => {
                self.bump();
                let quoted = self.datum(depth + 1)?;
                let quote = Sexp {
                    datum: Datum::Symbol("quote".into()),
                    span,
                };
                Datum::List(vec![quote, quoted])
            }
            Some(b'#') => self.hash(span)?,
            Some(c @ (b'`' | b',')) => {
                self.bump();
                let name = match c {
                    b'`' => "quasiquote",
                    _ if self.peek() == Some(b'@') => {
                        self.bump();
                        "unquote-splicing"
                    }
                    _ => "unquote",
                };
                let quoted = self.datum(depth + 1)?;
                let head = Sexp {
                    datum: Datum::Symbol(name.into()),
                    span,
                };
                Datum::List(vec![head, quoted])
            }
            Some(_) => self.atom(),
        };
        Ok(Sexp { datum, span })
    }

    fn hash(&mut self, span: Span) -> Result<Datum, ReadError> {
        self.bump();
        match self.peek() {
            Some(b'"') => Ok(Datum::Regex(self.raw_string()?)),
            Some(b'\\') => self.character(span),
            Some(b't') | Some(b'f') => {
                let word = self.word();
                match word.as_str() {
                    "t" | "true" => Ok(Datum::Bool(true)),
                    "f" | "false" => Ok(Datum::Bool(false)),
                    _ => self.error(span, format!("unknown syntax #{word}")),
                }
            }
            Some(c @ (b'x' | b'X' | b'o' | b'O' | b'b' | b'B' | b'd' | b'D')) => {
                self.bump();
                let radix = match c.to_ascii_lowercase() {
                    b'x' => 16,
                    b'o' => 8,
                    b'b' => 2,
                    _ => 10,
                };
                let digits = self.word();
                parse_int(&digits, radix)
                    .map(Datum::Int)
                    .ok_or_else(|| ReadError {
                        span,
                        message: format!("bad number #{}{digits}", c as char),
                    })
            }
            _ => self.error(span, "unknown '#' syntax"),
        }
    }

    /// `#\c` or a named character (`#\space`); the lexer stands on `\`.
    fn character(&mut self, span: Span) -> Result<Datum, ReadError> {
        self.bump();
        let start = self.pos;
        // The first character is taken whatever it is (`#\(` is a paren).
        let first = match self.peek() {
            None => return self.error(span, "unterminated character literal #\\"),
            Some(c) if c < 0x80 => {
                self.bump();
                1
            }
            Some(_) => {
                while self.bump().is_some() && self.peek().is_some_and(|c| c & 0xc0 == 0x80) {}
                self.pos - start
            }
        };
        let rest = if self.src[start].is_ascii_alphabetic() {
            self.word()
        } else {
            String::new()
        };
        let text = String::from_utf8_lossy(&self.src[start..start + first]).into_owned() + &rest;
        let named = match text.as_str() {
            "space" => Some(' '),
            "newline" | "linefeed" => Some('\n'),
            "tab" => Some('\t'),
            "return" => Some('\r'),
            "nul" | "null" => Some('\0'),
            _ => None,
        };
        let mut chars = text.chars();
        match (named, chars.next(), chars.next()) {
            (Some(c), _, _) => Ok(Datum::Char(c)),
            (None, Some(c), None) => Ok(Datum::Char(c)),
            _ => self.error(span, format!("unknown character name #\\{text}")),
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b'(' | b')' | b'"' | b';'))
        {
            self.bump();
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn atom(&mut self) -> Datum {
        let word = self.word();
        let hex = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X"));
        let number = match hex {
            Some(digits) => parse_int(digits, 16),
            None => parse_int(&word, 10),
        };
        match number {
            Some(n) => Datum::Int(n),
            None => Datum::Symbol(word),
        }
    }

    /// A `#"..."` regex literal: the text between the quotes as written, so
    /// the regex parser sees every backslash; `\"` does not end it.
    fn raw_string(&mut self) -> Result<String, ReadError> {
        let span = self.span();
        self.bump();
        let start = self.pos;
        loop {
            match self.bump() {
                None => return self.error(span, "unterminated regex literal"),
                Some(b'"') => break,
                Some(b'\\') => {
                    if self.bump().is_none() {
                        return self.error(span, "unterminated regex literal");
                    }
                }
                Some(_) => {}
            }
        }
        let text = &self.src[start..self.pos - 1];
        String::from_utf8(text.to_vec()).or_else(|_| self.error(span, "regex is not valid UTF-8"))
    }

    fn string(&mut self) -> Result<String, ReadError> {
        let span = self.span();
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return self.error(span, "unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    let esc = self.span();
                    match self.bump() {
                        Some(b'n') => out.push(b'\n'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b'0') => out.push(0),
                        Some(b'a') => out.push(7),
                        Some(b'x') => out.push(self.hex_escape(esc)?),
                        Some(c @ (b'"' | b'\\')) => out.push(c),
                        // Regex text keeps its own escapes: `\.` stays `\.`.
                        Some(c) => out.extend_from_slice(&[b'\\', c]),
                        None => return self.error(esc, "unterminated escape"),
                    }
                }
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).or_else(|_| self.error(span, "string is not valid UTF-8"))
    }

    /// `\xHH;` (R7RS): one byte given in hex, ended by `;`.
    fn hex_escape(&mut self, esc: Span) -> Result<u8, ReadError> {
        let mut digits = String::new();
        loop {
            match self.bump() {
                Some(b';') => break,
                Some(c) if c.is_ascii_hexdigit() && digits.len() < 2 => digits.push(c as char),
                _ => return self.error(esc, "bad \\x escape; expected \\xHH;"),
            }
        }
        u8::from_str_radix(&digits, 16)
            .or_else(|_| self.error(esc, "bad \\x escape; expected \\xHH;"))
    }
}

/// How a character is written after `#\\`.
fn char_name(c: char) -> String {
    match c {
        ' ' => "space".into(),
        '\n' => "newline".into(),
        '\t' => "tab".into(),
        '\r' => "return".into(),
        '\0' => "nul".into(),
        c => c.to_string(),
    }
}

/// An integer with an optional sign; `None` when `text` is not one.
fn parse_int(text: &str, radix: u32) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(text, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_forms_with_spans() {
        let forms =
            read("(version 1)\n; comment\n(allow file-read* (subpath \"/tmp/foo\"))").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[1].span, Span { line: 3, column: 1 });
        assert_eq!(forms[1].head(), Some("allow"));
        let filter = &forms[1].list().unwrap()[2];
        assert_eq!(
            filter.span,
            Span {
                line: 3,
                column: 19
            }
        );
        assert_eq!(filter.to_string(), "(subpath \"/tmp/foo\")");
    }

    #[test]
    fn reads_atoms() {
        let forms = read(r#"#t #f 42 #x1f 0x10 #"^/a\.b$" "q\"x" 'sym"#).unwrap();
        let data: Vec<_> = forms.into_iter().map(|s| s.datum).collect();
        assert_eq!(
            data[..7],
            [
                Datum::Bool(true),
                Datum::Bool(false),
                Datum::Int(42),
                Datum::Int(31),
                Datum::Int(16),
                Datum::Regex(r"^/a\.b$".into()),
                Datum::Str("q\"x".into()),
            ]
        );
        assert_eq!(
            data[7].clone(),
            Datum::List(vec![
                Sexp {
                    datum: Datum::Symbol("quote".into()),
                    span: Span {
                        line: 1,
                        column: 38
                    }
                },
                Sexp {
                    datum: Datum::Symbol("sym".into()),
                    span: Span {
                        line: 1,
                        column: 39
                    }
                },
            ])
        );
    }

    #[test]
    fn reads_the_rest_of_the_syntax() {
        let src = "#| a #| nested |# comment |# #;(skipped form) #o17 #b101 #d9 -4 +5 \
                   \"\\x41;\\tz\" #\"a\\\"b\\.c\" file-read*";
        let data: Vec<_> = read(src).unwrap().into_iter().map(|s| s.datum).collect();
        assert_eq!(
            data,
            [
                Datum::Int(15),
                Datum::Int(5),
                Datum::Int(9),
                Datum::Int(-4),
                Datum::Int(5),
                Datum::Str("A\tz".into()),
                // Regex literals keep their backslashes for the regex parser.
                Datum::Regex(r#"a\"b\.c"#.into()),
                Datum::Symbol("file-read*".into()),
            ]
        );
        // A sign alone, or digits then letters, is a symbol.
        let data: Vec<_> = read("- 1a").unwrap().into_iter().map(|s| s.datum).collect();
        assert_eq!(
            data,
            [Datum::Symbol("-".into()), Datum::Symbol("1a".into())]
        );
    }

    #[test]
    fn quasiquote_and_characters() {
        let forms = read("`(a ,b ,@c) #\\/ #\\space #\\( #\\é").unwrap();
        assert_eq!(
            forms[0].to_string(),
            "(quasiquote (a (unquote b) (unquote-splicing c)))"
        );
        let data: Vec<_> = forms[1..].iter().map(|s| s.datum.clone()).collect();
        assert_eq!(
            data,
            [
                Datum::Char('/'),
                Datum::Char(' '),
                Datum::Char('('),
                Datum::Char('é')
            ]
        );
        assert_eq!(forms[2].to_string(), "#\\space");
    }

    #[test]
    fn errors_name_the_place() {
        assert_eq!(
            read("(allow\n  (literal \"/x\")").unwrap_err().to_string(),
            "1:1: unclosed '(' opened here"
        );
        assert_eq!(read("(a))").unwrap_err().to_string(), "1:4: unexpected ')'");
        assert_eq!(
            read("\n  \"abc").unwrap_err().to_string(),
            "2:3: unterminated string"
        );
        assert_eq!(
            read("\n #| open").unwrap_err().to_string(),
            "2:2: unterminated #| comment opened here"
        );
        assert_eq!(
            read("#\\bogus").unwrap_err().to_string(),
            "1:1: unknown character name #\\bogus"
        );
        assert_eq!(read("#o9").unwrap_err().to_string(), "1:1: bad number #o9");
        assert!(read("\"\\x4g;\"").is_err());
        assert!(read("#\"abc").is_err());
        let deep = "(".repeat(1000);
        assert!(read(&deep).unwrap_err().message.contains("nested deeper"));
    }
}
