//! The runtime-check matrix: one generated test per profile x probe cell
//! (see build.rs and `sbcheck::testgen`). Each forks a child that enters
//! the sandbox and runs the probe on the real kernel.

include!(concat!(env!("OUT_DIR"), "/sbcheck_cells.rs"));
