//! Expands `expected/` (one JSON file per profile) into one integration test
//! per profile x probe cell with `sbcheck::testgen`, the same function
//! another crate's build script calls for its own matrix:
//! `$OUT_DIR/sbcheck_cells.rs`, included by `tests/matrix.rs`, holds a
//! module per profile and a `#[test]` per probe, so `cargo test v1_read`
//! runs one profile and `cargo test -- --list` shows `v1_read::read_etc_hosts`.

#[path = "src/matrix.rs"]
#[allow(dead_code)]
mod matrix;
#[path = "src/testgen.rs"]
#[allow(dead_code)]
mod testgen;

fn main() {
    println!("cargo:rerun-if-changed=src/matrix.rs");
    println!("cargo:rerun-if-changed=src/testgen.rs");
    println!("cargo:rerun-if-changed=profiles");
    // SBCHECK_MATRIX: another matrix directory (the benchmark suite's
    // generated 1,000 cells); the tests read the same one.
    println!("cargo:rerun-if-env-changed=SBCHECK_MATRIX");
    let matrix = std::env::var_os("SBCHECK_MATRIX").unwrap_or_else(|| "expected".into());
    // Traces go to out/, beside `sbcheck run`'s.
    match testgen::CellTests::new(&matrix).out("out").write() {
        Ok(_) => {}
        Err(e) => {
            // Fails the build naming the file, the place and the key at fault.
            eprintln!("error: malformed matrix: {e}");
            std::process::exit(1);
        }
    }
}
