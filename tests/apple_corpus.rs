//! Apple's own SBPL: every system profile of macOS 10.15.2 (223 files in
//! ../shared/realworld/apple-macos-10.15.2) compiles, imports searched in
//! both of its profile folders, except the few listed here with the reason
//! each fails. Both directions are checked: a regression makes a file fail
//! that is not listed, a fix makes a listed file compile; either changes the
//! list here and in docs/compiler.md.
//!
//! macOS compiles these profiles at launch with parameters (`_HOME`,
//! `TMPDIR`, `application_bundle_id`, ...). Without them `(param "K")` is #f
//! and `(string-append (param "_HOME") ...)` is an error, in Apple's
//! compiler as in this one, so each profile gets every parameter any
//! profile of the corpus reads, with the value `/sbcheck/param/K`.

use sbcheck::sbpl::{compile_file_with, Options, SearchPath};
use sbcheck::testing::there_or_skip;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

const CORPUS: &str = "../shared/realworld/apple-macos-10.15.2";
const FOLDERS: [&str; 2] = ["Profiles", "usr-share-sandbox"];

/// The share of the corpus that must compile, in percent (measured: 217 of
/// 223 = 97.3%).
const FLOOR_PERCENT: f64 = 97.0;

/// Files that do not compile, relative to the corpus, with why.
const KNOWN_FAILING: &[(&str, &str)] = &[
    (
        "Profiles/com.apple.colorsync.displayservices.sb",
        "calls (allow-create-directory ...), which no profile or library defines",
    ),
    (
        "Profiles/com.apple.fileproviderd.sb",
        "fsctl constant APFSIOC_GET_DIR_STATS_EXT is not in the macOS 14.4.1 constants table",
    ),
    (
        "Profiles/com.apple.metrickitd.sb",
        "imports common.sb, which is not in the corpus",
    ),
    (
        "usr-share-sandbox/com.apple.bird.sb",
        "fsctl constant APFSIOC_SYNC_ROOT_SET_FLAG is not in the macOS 14.4.1 constants table",
    ),
    (
        "usr-share-sandbox/com.apple.softwareupdated.sb",
        "imports /System/Library/PrivateFrameworks/BridgeOSInstall.framework/.../framework.sb, not in the corpus",
    ),
    (
        "usr-share-sandbox/wfs.sb",
        "imports /etc/wfs/wfs_file-write.sb, not in the corpus",
    ),
];

fn profiles(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = FOLDERS
        .iter()
        .flat_map(|f| std::fs::read_dir(root.join(f)).into_iter().flatten())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sb"))
        .collect();
    files.sort();
    files
}

/// Every `(param "K")` the corpus reads.
fn parameters(files: &[PathBuf]) -> Vec<(String, String)> {
    let mut keys = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for (at, _) in text.match_indices("(param \"") {
            let rest = &text[at + 8..];
            if let Some(end) = rest.find('"') {
                keys.insert(rest[..end].to_owned());
            }
        }
    }
    keys.into_iter()
        .map(|k| {
            let v = format!("/sbcheck/param/{k}");
            (k, v)
        })
        .collect()
}

#[test]
fn apple_system_profiles_compile() {
    let root = Path::new(CORPUS);
    if !there_or_skip("apple_system_profiles_compile", root) {
        return;
    }
    let files = profiles(root);
    assert!(
        files.len() >= 200,
        "only {} profiles under {CORPUS}",
        files.len()
    );
    let options = Options {
        params: parameters(&files),
    };
    let search = SearchPath(FOLDERS.iter().map(|f| root.join(f)).collect());
    let mut failing = BTreeSet::new();
    let mut report = String::new();
    for file in &files {
        if let Err(e) = compile_file_with(file, &options, &search) {
            let name = file.strip_prefix(root).unwrap_or(file);
            failing.insert(name.to_string_lossy().into_owned());
            report.push_str(&format!("{}: {}\n", e.location(), e.message));
        }
    }
    let compiled = files.len() - failing.len();
    let percent = 100.0 * compiled as f64 / files.len() as f64;
    let _ = writeln!(
        std::io::stderr(),
        "{compiled} of {} Apple profiles compile ({percent:.1}%); failures:\n{report}",
        files.len()
    );
    assert!(
        percent >= FLOOR_PERCENT,
        "{percent:.1}% compile, below the floor of {FLOOR_PERCENT}%:\n{report}"
    );
    let known: BTreeSet<String> = KNOWN_FAILING.iter().map(|(f, _)| (*f).to_owned()).collect();
    let new: Vec<_> = failing.difference(&known).collect();
    let fixed: Vec<_> = known.difference(&failing).collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "the failing files changed: newly failing {new:?}, now compiling {fixed:?} \
         (update KNOWN_FAILING and docs/compiler.md)\n{report}"
    );
}

#[test]
fn parameters_are_needed_as_on_macos() {
    let root = Path::new(CORPUS);
    let file = root.join("Profiles/com.apple.writeconfig.sb");
    if !there_or_skip("parameters_are_needed_as_on_macos", &file) {
        return;
    }
    let search = SearchPath(FOLDERS.iter().map(|f| root.join(f)).collect());
    let e = compile_file_with(&file, &Options::default(), &search).unwrap_err();
    assert!(
        e.to_string().contains("parameter PATH_TO_DENY is not set"),
        "{e}"
    );
    let given = Options {
        params: vec![("PATH_TO_DENY".into(), "/private/x".into())],
    };
    assert!(compile_file_with(&file, &given, &search).is_ok());
}
