#![no_main]
//! See [`sbcheck_fuzz::blob_decode`] for what this target checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sbcheck_fuzz::blob_decode(data));
