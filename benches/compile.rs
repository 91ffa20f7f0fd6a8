//! Compile-all benchmark: every SBPL file of the macOS 14.4.1 corpus that has
//! an Apple blob, with its parameters, compiled from its file as
//! `sbcheck compile` does (read, evaluate, lay out). Prints the median time
//! of one pass over all of them, and checks the output is still Apple's.
//!
//! `cargo bench --bench compile` (a release build; no harness, no deps).

use sbcheck::sbpl::{compile_file, Options};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PASSES: usize = 200;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/apple/macos-14.4.1")
}

/// (source path, parameters, Apple's blob) for every blob with SBPL.
pub fn cases() -> Vec<(PathBuf, Options, Vec<u8>)> {
    let dir = corpus();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.md")).expect("MANIFEST.md");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".sb.bin").map(str::to_owned))
        .filter(|n| dir.join(format!("{n}.sb")).exists())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let params = manifest
                .lines()
                .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
                .filter(|cols| cols.len() > 6 && cols[1] == name)
                .flat_map(|cols| {
                    cols[6]
                        .split_whitespace()
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect::<Vec<_>>()
                })
                .collect();
            let blob = std::fs::read(dir.join(format!("{name}.sb.bin"))).expect("blob");
            (dir.join(format!("{name}.sb")), Options { params }, blob)
        })
        .collect()
}

fn main() {
    let cases = cases();
    for (path, options, apple) in &cases {
        let ours = compile_file(path, options).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            &ours == apple,
            "{} is no longer Apple's blob",
            path.display()
        );
    }
    let mut passes: Vec<Duration> = (0..PASSES)
        .map(|_| {
            let start = Instant::now();
            for (path, options, _) in &cases {
                std::hint::black_box(compile_file(path, options).ok());
            }
            start.elapsed()
        })
        .collect();
    passes.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "compile all {} Apple profiles: median {:.3} ms per pass (min {:.3}, max {:.3}; {PASSES} passes)",
        cases.len(),
        ms(passes[PASSES / 2]),
        ms(passes[0]),
        ms(passes[PASSES - 1]),
    );
    println!(
        "per profile: median {:.1} us",
        ms(passes[PASSES / 2]) * 1e3 / cases.len() as f64
    );
}
