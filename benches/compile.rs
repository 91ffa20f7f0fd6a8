//! Compile-all benchmark: every SBPL file of the macOS 14.4.1 corpus that has
//! an Apple blob, with its parameters, compiled from its file as
//! `sbcheck compile` does (read, evaluate, lay out). Prints the median time
//! of one pass over all of them, and checks the output is still Apple's.
//!
//! Then Apple's macOS 10.15.2 system profiles (../shared/realworld, when
//! there): each compiled with its imports (both profile folders on the
//! search path) and every parameter the corpus reads, the median of
//! `REAL_PASSES` compiles of the largest profile (application.sb, 70 KB) and
//! of the slowest one; issue 14 asks for under 20 ms.
//!
//! `cargo bench --bench compile` (a release build; no harness, no deps).

use sbcheck::sbpl::{compile_file, compile_file_with, Options, SearchPath};
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
    apple_blobs();
    real_world();
}

fn apple_blobs() {
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

const REAL_PASSES: usize = 50;
const REAL: &str = "../shared/realworld/apple-macos-10.15.2";
const FOLDERS: [&str; 2] = ["Profiles", "usr-share-sandbox"];

/// Every `(param "K")` the files read, each set to `/sbcheck/param/K`
/// (tests/apple_corpus.rs gives the same).
fn real_parameters(files: &[PathBuf]) -> Options {
    let mut keys: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text.split("(param \"")
                .skip(1)
                .filter_map(|rest| rest.split_once('"').map(|(k, _)| k.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    keys.sort();
    keys.dedup();
    Options {
        params: keys
            .into_iter()
            .map(|k| (k.clone(), format!("/sbcheck/param/{k}")))
            .collect(),
    }
}

fn median_ms(path: &Path, options: &Options, search: &SearchPath, passes: usize) -> f64 {
    let mut times: Vec<Duration> = (0..passes)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(compile_file_with(path, options, search).ok());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[passes / 2].as_secs_f64() * 1e3
}

fn real_world() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(REAL);
    if !root.is_dir() {
        println!(
            "Apple 10.15.2 profiles: skipped, {} is not there",
            root.display()
        );
        return;
    }
    let mut files: Vec<PathBuf> = FOLDERS
        .iter()
        .flat_map(|f| std::fs::read_dir(root.join(f)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sb"))
        .collect();
    files.sort();
    let options = real_parameters(&files);
    let search = SearchPath(FOLDERS.iter().map(|f| root.join(f)).collect());
    let compiled: Vec<&PathBuf> = files
        .iter()
        .filter(|f| compile_file_with(f, &options, &search).is_ok())
        .collect();
    let largest = compiled
        .iter()
        .max_by_key(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .copied();
    let slowest = compiled
        .iter()
        .map(|f| (median_ms(f, &options, &search, 5), *f))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "Apple 10.15.2 profiles: {} of {} compile",
        compiled.len(),
        files.len()
    );
    let name = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    if let Some(f) = largest {
        let ms = median_ms(f, &options, &search, REAL_PASSES);
        println!(
            "largest, {} with its imports: median {ms:.3} ms ({REAL_PASSES} passes)",
            name(f)
        );
    }
    if let Some((_, f)) = slowest {
        let ms = median_ms(f, &options, &search, REAL_PASSES);
        println!(
            "slowest, {} with its imports: median {ms:.3} ms ({REAL_PASSES} passes)",
            name(f)
        );
    }
}
