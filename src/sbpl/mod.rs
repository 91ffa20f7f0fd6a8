//! SBPL: the reader (text to s-expressions), the evaluator (the Scheme subset
//! profiles are written in, to rules), and the compiler (rules to a blob in
//! Apple's macOS 14 layout, regexes to AppleMatch v3).
//!
//! ```text
//! reader -> eval (filters, regex) -> rules -> compile (layout) -> blob bytes
//! ```

pub mod compile;
pub mod error;
pub mod eval;
pub mod filters;
pub mod library;
pub mod preprocess;
pub mod procs;
pub mod reader;
pub mod regex;
pub mod rules;

pub use compile::{compile, compile_file, compile_file_with, compile_source};
pub use error::CompileError;
pub use eval::{evaluate, Options, SearchPath};
