//! The harness from another crate: examples/own-matrix/ checks its own
//! profile with tests its build.rs generates through `sbcheck::testgen`.
//! Its `cargo test` passes as written, and fails, naming the cell, on a
//! copy whose expectation is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The example crate copied to `dir`, depending on this checkout by
/// absolute path, with this crate's lock file so nothing new is fetched.
fn copy_example(dir: &Path) -> PathBuf {
    let to = dir.join("own-matrix");
    let from = here().join("examples/own-matrix");
    for sub in ["", "src", "tests", "profiles", "expected"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    let manifest = std::fs::read_to_string(to.join("Cargo.toml")).unwrap();
    let absolute = format!("path = {:?}", here().display().to_string());
    std::fs::write(
        to.join("Cargo.toml"),
        manifest.replace("path = \"../..\"", &absolute),
    )
    .unwrap();
    std::fs::copy(here().join("Cargo.lock"), to.join("Cargo.lock")).unwrap();
    to
}

fn cargo_test(krate: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["test", "--offline", "--test", "matrix"])
        .current_dir(krate)
        // Its own target directory: this run's is locked by the cargo
        // running this test; shared between the two runs below.
        .env("CARGO_TARGET_DIR", here().join("target/own-matrix"))
        .output()
        .expect("cargo runs")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn the_example_crate_passes_and_a_wrong_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = copy_example(&dir.path().join("good"));
    let o = cargo_test(&good);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("test app::reads_its_data ... ok"), "{t}");
    assert!(t.contains("3 passed; 0 failed"), "{t}");

    let bad = copy_example(&dir.path().join("bad"));
    let file = bad.join("expected/app.json");
    let matrix = std::fs::read_to_string(&file).unwrap();
    // The secret is not readable: expecting it to be is a wrong expectation.
    let wrong = matrix.replacen(
        "\"target\": \"/tmp/sbcheck-own-matrix/secret.txt\",\n      \"expected\": \"deny\"",
        "\"target\": \"/tmp/sbcheck-own-matrix/secret.txt\",\n      \"expected\": \"allow\"",
        1,
    );
    assert_ne!(
        wrong, matrix,
        "the example's matrix changed: update this test"
    );
    std::fs::write(&file, wrong).unwrap();
    let o = cargo_test(&bad);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(101), "{t}");
    assert!(
        t.contains("test app::cannot_read_the_secret ... FAILED"),
        "{t}"
    );
    // The pretty_assertions diff: expected (left) against what the decoder
    // predicted and the kernel did (right).
    assert!(t.contains("observed: \"allow\""), "{t}");
    assert!(t.contains("observed: \"deny\""), "{t}");
    assert!(t.contains("2 passed; 1 failed"), "{t}");
}
