//! One test per cell of expected/: `cargo test` runs each probe under the
//! profile on the real kernel and fails on any verdict that is not the
//! expected one.

fn main() {
    if let Err(e) = sbcheck::testgen::CellTests::new("expected").write() {
        eprintln!("error: malformed matrix: {e}");
        std::process::exit(1);
    }
}
