//! sbcheck: checks at runtime that compiled Apple Seatbelt profiles allow and
//! deny what their decoded form says they will.
//!
//! The data flow, one module a stage:
//!
//! ```text
//! sbpl (read, evaluate, compile) -> blob (decode/encode) -> decision (a blob's verdict for a query)
//!   -> apply (enforce: seatbelt on macOS, seccomp notify on Linux)
//!   -> probe (the syscall a cell exercises) -> harness (fork, verdict)
//!   -> report (trace, table, runtime_results.json) -> html (report.html)
//! ```
//!
//! `matrix` reads the expectations that drive the harness; `testgen` turns
//! a matrix into one test per cell (for this crate and for others), and
//! `testing` is what each such test runs; `vocab` holds each release's
//! operation and filter names.

pub mod apply;
pub mod batch;
pub mod blob;
pub mod cli;
pub mod decision;
pub mod harness;
pub mod hermetic;
pub mod html;
pub mod macos_paths;
pub mod matrix;
pub mod probe;
pub mod report;
pub mod sbpl;
pub mod testgen;
pub mod testing;
pub mod vocab;
