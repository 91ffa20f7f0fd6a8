//! Builds the seed corpora in `fuzz/corpus/<target>/` from `profiles/`:
//! the Apple blobs and our compiled `.sb` profiles for `blob_decode`, the
//! `.sb` sources for `sbpl_compile`, every decoded path pattern for
//! `pattern_match`, and every regex (blob items and `#"..."` texts) for
//! `regex_match`. Run from anywhere:
//! `cargo run --release --manifest-path fuzz/Cargo.toml --bin make_seeds`.

use sbcheck::blob::{Format, Profile};
use sbcheck::sbpl::regex::Regex;
use sbcheck::sbpl::{compile_source, Options, SearchPath};
use sbcheck_fuzz::frame;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PATHS: [&[u8]; 4] = [
    b"/tmp/foo",
    b"/private/var/mobile/Library/Preferences/com.apple.x.plist",
    b"/Users/me/Library/Caches/x",
    b"/System/Library/Frameworks/A.framework/A",
];

/// Regex texts in the shapes Apple's profiles use, beside any `#"..."` of
/// the `.sb` files (few of ours have one).
const REGEXES: [&str; 8] = [
    "^/private/var/(mobile|root)/Library/",
    "^/dev/tty[a-z]*$",
    "\\.plist$",
    "^/Users/[^/]+/Library/.*",
    "^(/private)?/tmp/[0-9A-Za-z_.-]+$",
    "a*b+c?d",
    "^/System/Library/Frameworks/[^/]+\\.framework/",
    "^$",
];

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
fn files(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, suffix, out);
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
    out.sort();
}

/// `#"..."` regex literals of an SBPL source.
fn regex_texts(src: &str) -> Vec<String> {
    src.split("#\"")
        .skip(1)
        .filter_map(|rest| rest.find('"').map(|end| rest[..end].to_owned()))
        .collect()
}

/// The regex items of a blob, with the selector `regex_match` reads them by.
fn regex_items(p: &Profile) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in &p.regexes {
        if p.format == Format::Legacy {
            let at = 8 * usize::from(entry.item);
            let Some(len) = p.bytes.get(at..at + 4) else {
                continue;
            };
            let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
            if let Some(body) = p.bytes.get(at + 4..at + 4 + len) {
                out.push((1, body.to_vec()));
            }
        } else if let Ok(item) = p.data_item(entry.item) {
            out.push((0, item.to_vec()));
        }
    }
    out
}

fn main() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let profiles = fuzz.join("../profiles");
    let mut seeds: [(&str, BTreeSet<Vec<u8>>); 4] = [
        ("blob_decode", BTreeSet::new()),
        ("sbpl_compile", BTreeSet::new()),
        ("pattern_match", BTreeSet::new()),
        ("regex_match", BTreeSet::new()),
    ];
    let mut blobs = Vec::new();
    let mut bins = Vec::new();
    files(&profiles, ".bin", &mut bins);
    for f in bins {
        blobs.push(std::fs::read(&f).unwrap());
    }
    let mut sources = Vec::new();
    files(&profiles, ".sb", &mut sources);
    let mut texts: Vec<String> = REGEXES.iter().map(|r| r.to_string()).collect();
    for f in sources {
        let src = std::fs::read_to_string(&f).unwrap();
        let search = SearchPath(vec![profiles.clone()]);
        if let Ok(blob) = compile_source(&src, Some(&f), &Options::default(), &search) {
            blobs.push(blob);
        }
        texts.extend(regex_texts(&src));
        seeds[1].1.insert(src.into_bytes());
    }
    for text in &texts {
        for path in PATHS {
            seeds[3].1.insert(frame(2, text.as_bytes(), path));
        }
        if let Ok(item) = Regex::parse(text).and_then(|r| r.item()) {
            seeds[3].1.insert(frame(0, &item, PATHS[0]));
        }
    }
    // Filter texts for the selectors that compile them (literal, subpath,
    // prefix), each against every path and two near misses.
    let filters: [(u8, &[u8]); 3] = [(0xfd, b"/tmp/foo"), (0xfe, b"/"), (0xff, b"/tmp/")];
    let near: [&[u8]; 2] = [b"/tmp/foo/bar", b"/tmp/foobar"];
    for (sel, text) in filters {
        for path in PATHS.iter().chain(&near) {
            seeds[2].1.insert(frame(sel, text, path));
        }
    }
    for blob in &blobs {
        let Ok(p) = Profile::decode(blob) else {
            continue;
        };
        let vars = u8::try_from(p.global_vars.len()).unwrap_or(u8::MAX);
        for (k, item) in p.patterns.iter().enumerate() {
            let path = PATHS[k % PATHS.len()];
            seeds[2].1.insert(frame(vars, item.program.code(), path));
        }
        for (sel, item) in regex_items(&p) {
            seeds[3].1.insert(frame(sel, &item, PATHS[1]));
        }
        seeds[0].1.insert(blob.clone());
    }
    for (target, set) in &seeds {
        let dir = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (k, bytes) in set.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{k:04}")), bytes).unwrap();
        }
        println!("{target}: {} seeds in {}", set.len(), dir.display());
    }
}
