//! The macOS path model against what real Macs did (issue: "macOS path
//! matching as real Macs showed it"). Each row is an observation of the
//! research harness on macOS 14.4.1 (two runs, blob applied with
//! sandbox_apply, outcome witnessed by the probe's exit status); the
//! profile is the matrix's own source for that cell.

use sbcheck::blob::Profile;
use sbcheck::decision::{evaluate, Args, Verdict};
use sbcheck::macos_paths::PathModel;
use sbcheck::matrix::Matrix;
use sbcheck::sbpl::{compile_file, Options};
use sbcheck::vocab::filter;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn profile(name: &str) -> Profile {
    let blob = compile_file(&root().join("profiles").join(name), &Options::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Profile::decode(&blob).unwrap()
}

/// The verdict for `op` on `path` as named by a program, under `model`.
fn decide(p: &Profile, op: &str, path: &str, model: PathModel) -> Verdict {
    let tested: Vec<Vec<u8>> = model
        .tested(Path::new(path))
        .into_iter()
        .map(|p| p.into_os_string().into_encoded_bytes())
        .collect();
    let strings: Vec<(u8, &[u8])> = tested[1..]
        .iter()
        .map(|t| (filter::PATH, t.as_slice()))
        .collect();
    let args = Args {
        path: Some(&tested[0]),
        ints: &[],
        strings: &strings,
    };
    let op = p.vocab.parse_op(op).unwrap();
    evaluate(p, op, &args).verdict().unwrap()
}

/// (matrix profile, probe, source, operation, path as the program named it,
/// what the real Mac did).
const OBSERVED: [(&str, &str, &str, &str, &str, Verdict); 5] = [
    (
        "v11_read_subpath",
        "read_tmp_foo",
        "v11_read_subpath.sb",
        "file-read-data",
        "/tmp/foo",
        Verdict::Allow,
    ),
    (
        "v12_runtime_probe",
        "read_private_tmp_foo",
        "v12_runtime_probe.sb",
        "file-read-data",
        "/private/tmp/foo",
        Verdict::Allow,
    ),
    (
        "metafilter_any",
        "read_baz",
        "metafilter_any.sb",
        "file-read-data",
        "/tmp/baz.txt",
        Verdict::Deny,
    ),
    (
        "metafilter_any",
        "write_baz",
        "metafilter_any.sb",
        "file-write-data",
        "/tmp/baz.txt",
        Verdict::Deny,
    ),
    (
        "strict_1",
        "read_ok",
        "strict_1.sb",
        "file-read-data",
        "/private/tmp/strict_ok/allow.txt",
        Verdict::Allow,
    ),
];

#[test]
fn the_kernel_model_reproduces_every_observation() {
    for (_, _, source, op, path, mac) in OBSERVED {
        let p = profile(source);
        assert_eq!(
            decide(&p, op, path, PathModel::MacosKernel),
            mac,
            "{source} {op} {path}"
        );
    }
}

#[test]
fn the_resolved_only_model_does_not() {
    // The model sbcheck had before, and what sandbox_check() answered for
    // the v11 read: four of the five observations contradict it.
    let wrong = OBSERVED
        .iter()
        .filter(|(_, _, source, op, path, mac)| {
            decide(&profile(source), op, path, PathModel::MacosResolved) != *mac
        })
        .count();
    assert_eq!(wrong, 4);
}

#[test]
fn the_matrix_expects_on_macos_what_the_mac_did() {
    let m = Matrix::load_dir(&root().join("expected")).unwrap();
    for (name, probe, _, _, path, mac) in OBSERVED {
        let spec = m
            .profile(name)
            .and_then(|p| p.probe(probe))
            .unwrap_or_else(|| panic!("{name}::{probe} is not in the matrix"));
        assert_eq!(spec.target, path, "{name}::{probe}");
        assert_eq!(
            Verdict::parse(spec.expected_for(true)),
            Some(mac),
            "{name}::{probe}: expected_macos"
        );
    }
}
