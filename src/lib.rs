//! sbcheck: checks at runtime that compiled Apple Seatbelt profiles allow and
//! deny what their decoded form says they will.
//!
//! The data flow, one module a stage:
//!
//! ```text
//! sbpl (read, evaluate, compile) -> blob (decode/encode) -> eval (decision)
//!   -> apply (enforce: seatbelt on macOS, seccomp notify on Linux)
//!   -> probe (the syscall a cell exercises) -> harness (fork, verdict)
//!   -> report (trace, table, runtime_results.json)
//! ```

pub mod blob;
pub mod eval;
pub mod sbpl;
pub mod vocab;
