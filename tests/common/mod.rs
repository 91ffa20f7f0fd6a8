//! What every generated cell test does is `sbcheck::testing::check_cell`
//! (run the cell, write its trace, then a pretty_assertions diff of the
//! expectation against the decoder's and the kernel's verdicts); the
//! harness tests call the same function, so they test what users run.

pub use sbcheck::testing::check_cell;
