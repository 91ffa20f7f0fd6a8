//! Apple's libsandbox output (macOS 14.4.1) as test vectors for the compiler
//! and the decoder. Each blob here was compiled by Apple from the SBPL beside it.

use sbcheck::blob::Profile;
use sbcheck::sbpl::{compile, Options};
use std::path::PathBuf;

fn apple(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple/macos-14.4.1")
        .join(name)
}

/// The first difference between two blobs, described by region, with the
/// differing node or data item decoded from both.
fn first_difference(ours: &[u8], apple: &[u8]) -> Option<String> {
    let at = ours
        .iter()
        .zip(apple)
        .position(|(a, b)| a != b)
        .or_else(|| (ours.len() != apple.len()).then_some(ours.len().min(apple.len())))?;
    let a = match Profile::decode(apple) {
        Ok(a) => a,
        Err(e) => return Some(format!("byte {at}: undecodable apple blob: {e}")),
    };
    let o = Profile::decode(ours).map_err(|e| format!("(ours does not decode: {e})"));
    let region = if at < a.nodes_offset {
        format!(
            "header/op table (op {}): ours {:?}, apple {:?}",
            at.saturating_sub(14) / 2,
            o.as_ref().map(|o| &o.op_table),
            &a.op_table
        )
    } else if at < a.data_base {
        let i = (at - a.nodes_offset) / 8;
        format!(
            "node {i}: ours {:?}, apple {:?}",
            o.as_ref().map(|o| o.nodes.get(i)),
            a.nodes.get(i)
        )
    } else {
        let arg = ((at - a.data_base) / 8) as u16;
        format!(
            "data item at arg {arg}: ours {:02x?}, apple {:02x?}",
            o.as_ref().map(|o| o.data_item(arg).ok()),
            a.data_item(arg).ok()
        )
    };
    Some(format!(
        "first difference at byte {at}, {region}; lengths {} vs {}",
        ours.len(),
        apple.len()
    ))
}

/// Parameters Apple compiled each profile with, from MANIFEST.md's table.
fn manifest_params(name: &str) -> Vec<(String, String)> {
    let manifest = std::fs::read_to_string(apple("MANIFEST.md")).unwrap();
    manifest
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            (cols.len() > 6 && cols[1] == name).then(|| cols[6].to_owned())
        })
        .flat_map(|params| {
            params
                .split_whitespace()
                .filter_map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every Apple blob that has its SBPL source beside it.
fn apple_sources() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(apple(""))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".sb.bin").map(str::to_owned))
        .filter(|n| apple(&format!("{n}.sb")).exists())
        .collect();
    names.sort();
    names
}

/// The reporter names the region that differs.
#[test]
fn difference_report_names_the_node() {
    let apple = std::fs::read(apple("golden_strict_1_file.sb.bin")).unwrap();
    let mut ours = apple.clone();
    ours[400 + 8 * 3 + 4] ^= 2; // node 3's match edge: 6 -> 4
    let report = first_difference(&ours, &apple).unwrap();
    assert!(
        report.starts_with("first difference at byte 428, node 3: "),
        "{report}"
    );
    assert_eq!(first_difference(&apple, &apple), None);
}

/// Our compiler reproduces Apple's bytes for every blob whose SBPL we have.
/// All differences are reported at once, each at its first differing region.
#[test]
fn byte_identical_with_apple() {
    let names = apple_sources();
    assert_eq!(
        names.len(),
        38,
        "the macOS 14.4.1 corpus has 38 blobs with SBPL"
    );
    let mut failures = Vec::new();
    for name in &names {
        let src = std::fs::read_to_string(apple(&format!("{name}.sb"))).unwrap();
        let expected = std::fs::read(apple(&format!("{name}.sb.bin"))).unwrap();
        let options = Options {
            params: manifest_params(name),
        };
        match compile(&src, &options) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(ours) => {
                failures.extend(first_difference(&ours, &expected).map(|d| format!("{name}: {d}")))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// `(version 1) (allow default)`: the source of baseline_allow_all was not
/// recovered, but its blob is what this compiles to.
#[test]
fn allow_default_is_baseline_allow_all() {
    let ours = compile("(version 1)\n(allow default)\n", &Options::default()).unwrap();
    let expected = std::fs::read(apple("baseline_allow_all.sb.bin")).unwrap();
    assert_eq!(first_difference(&ours, &expected), None);
}

/// Apple's compiler rejects these without their parameters; ours does too.
#[rstest::rstest]
#[case("param_path_file_no_params")]
#[case("param_path_string_no_params")]
fn missing_parameters_are_rejected(#[case] name: &str) {
    let src = std::fs::read_to_string(apple(&format!("{name}.sb"))).unwrap();
    let e = compile(&src, &Options::default()).unwrap_err();
    assert!(
        e.message
            .contains("invalid data type of path filter; expected pattern, got boolean"),
        "{e}"
    );
}
