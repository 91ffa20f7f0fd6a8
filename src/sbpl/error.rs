//! Compile errors: the file, the line:column, the message (with a "did you
//! mean" hint where a name is unknown) and the form at fault.

use super::reader::{Sexp, Span};
use std::fmt;
use std::path::PathBuf;

/// A compile error with the place at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// The file the form is in; `None` for source given as a string.
    pub file: Option<PathBuf>,
    pub span: Span,
    pub message: String,
    /// The form at fault, as SBPL (shortened when long).
    pub form: Option<String>,
}

/// Longest form text an error quotes.
const FORM_TEXT_MAX: usize = 100;

impl CompileError {
    pub fn new(span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            file: None,
            span,
            message: message.into(),
            form: None,
        }
    }

    /// The error at `form`, quoting it.
    pub fn at(form: &Sexp, message: impl Into<String>) -> CompileError {
        CompileError {
            form: Some(shorten(&form.to_string())),
            ..CompileError::new(form.span, message)
        }
    }

    /// Names the file unless an inner evaluation already did.
    pub fn in_file(mut self, file: Option<&PathBuf>) -> CompileError {
        if self.file.is_none() {
            self.file = file.cloned();
        }
        self
    }

    /// The error as a compiler prints it, with the source line it points at
    /// and a caret under the column when `source` (the text of the error's
    /// file) is given.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = self.to_string();
        let line = source.and_then(|s| s.lines().nth((self.span.line as usize).checked_sub(1)?));
        if let Some(line) = line {
            let pad: String = line
                .chars()
                .take((self.span.column as usize).saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n    |\n    | {line}\n    | {pad}^"));
        }
        out
    }

    /// `file:line:column`, as compilers print it.
    pub fn location(&self) -> String {
        match &self.file {
            Some(file) => format!("{}:{}", file.display(), self.span),
            None => format!("<sbpl>:{}", self.span),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= FORM_TEXT_MAX {
        return text.to_owned();
    }
    let cut: String = text.chars().take(FORM_TEXT_MAX - 3).collect();
    format!("{cut}...")
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(form) = &self.form {
            write!(f, "\n    in {form}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

/// `"; did you mean NAME?"`, or nothing.
pub fn hint(suggestion: Option<&str>) -> String {
    suggestion
        .map(|n| format!("; did you mean {n}?"))
        .unwrap_or_default()
}
