#![no_main]
//! See [`sbcheck_fuzz::regex_match`] for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sbcheck_fuzz::regex_match(data));
