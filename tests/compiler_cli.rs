//! `sbcheck compile` end to end: the binary, its options, its exit status.

use std::path::{Path, PathBuf};
use std::process::Command;

fn apple(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple/macos-14.4.1")
        .join(name)
}

fn sbcheck(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sbcheck"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn compiles_with_params_to_apples_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sb.bin");
    let src = apple("param_path_file_with_params.sb");
    let run = sbcheck(&[
        "compile",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--param",
        "ROOT=/private/tmp",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let expected = std::fs::read(apple("param_path_file_with_params.sb.bin")).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.ends_with(&format!("{}: 503 bytes\n", out.display())),
        "{stdout}"
    );
}

#[test]
fn errors_print_place_form_and_source_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let src = apple("param_path_file_no_params.sb");
    let out = dir.path().join("never.bin");
    let run = sbcheck(&[
        "compile",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(!out.exists());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let expected = format!(
        "{}:5:19: invalid data type of path filter; expected pattern, got boolean \
         (parameter ROOT is not set; pass --param ROOT=VALUE)\n    in (subpath (param \"ROOT\"))\n    |\n    \
         | (allow file-read* (subpath (param \"ROOT\")))\n    |                   ^\n",
        src.display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn import_dirs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let lib = tempfile::tempdir().unwrap();
    std::fs::write(lib.path().join("common.sb"), "(deny default)\n").unwrap();
    let main = dir.path().join("main.sb");
    std::fs::write(&main, "(version 1)\n(import \"common.sb\")\n").unwrap();
    let out = dir.path().join("main.bin");
    let args = [
        "compile",
        main.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let without = sbcheck(&args);
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stderr).contains("cannot find \"common.sb\""));
    let with = sbcheck(&[&args[..], &["-I", lib.path().to_str().unwrap()]].concat());
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let flat =
        sbcheck::sbpl::compile("(version 1)\n(deny default)\n", &Default::default()).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), flat);
}
