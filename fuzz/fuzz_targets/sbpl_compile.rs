#![no_main]
//! See [`sbcheck_fuzz::sbpl_compile`] for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sbcheck_fuzz::sbpl_compile(data));
