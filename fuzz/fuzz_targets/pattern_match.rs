#![no_main]
//! See [`sbcheck_fuzz::pattern_match`] for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sbcheck_fuzz::pattern_match(data));
