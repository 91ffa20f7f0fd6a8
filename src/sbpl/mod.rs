//! SBPL: the reader (text to s-expressions), the evaluator (forms to rules)
//! and the compiler (rules to a blob in Apple's macOS 14 layout).

pub mod compile;
pub mod reader;

pub use compile::{compile, compile_file, CompileError, Options};
