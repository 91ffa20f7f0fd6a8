//! The generated cell tests (see build.rs).

include!(concat!(env!("OUT_DIR"), "/sbcheck_cells.rs"));
