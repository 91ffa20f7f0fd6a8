//! The SBPL evaluator and the filter forms, through the compiled blob.
//!
//! Scheme-level features are checked by equivalence: a profile written with
//! `define`, `let`, `map`, ... must compile to exactly the bytes of the same
//! rules written out flat. Filters and modifiers are checked on the decoded
//! nodes and data items.

use pretty_assertions::assert_eq;
use rstest::rstest;
use sbcheck::blob::{Action, Modifier, Node, Profile};
use sbcheck::sbpl::{compile, compile_file, compile_file_with, Options, SearchPath};
use sbcheck::vocab::Vocab;
use std::path::Path;

fn opts(params: &[(&str, &str)]) -> Options {
    Options {
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn blob(src: &str) -> Vec<u8> {
    compile(src, &opts(&[("HOME", "/Users/me")])).unwrap_or_else(|e| panic!("{e}"))
}

fn decoded(src: &str) -> Profile {
    Profile::decode(&blob(src)).unwrap()
}

const HEAD: &str = "(version 1)\n(deny default)\n";

#[rstest]
#[case::define_value(
    r#"(define tmp "/private/tmp") (allow file-read* (subpath tmp))"#,
    r#"(allow file-read* (subpath "/private/tmp"))"#
)]
#[case::define_procedure(
    r#"(define (home p) (subpath (string-append (param "HOME") p)))
       (allow file-read* (home "/Library"))"#,
    r#"(allow file-read* (subpath "/Users/me/Library"))"#
)]
#[case::lambda_and_rest_args(
    r#"(define any-literal (lambda paths (apply require-any (map literal paths))))
       (allow file-read-data (any-literal "/a" "/b"))"#,
    r#"(allow file-read-data (require-any (literal "/a") (literal "/b")))"#
)]
#[case::dotted_parameters(
    r#"(define (allow-read first . more) (allow file-read* (literal first) (map literal more)))
       (allow-read "/a" "/b" "/c")"#,
    r#"(allow file-read* (literal "/a") (literal "/b") (literal "/c"))"#
)]
#[case::let_and_let_star(
    r#"(let* ((root "/opt") (lib (string-append root "/lib")))
         (let ((root "/ignored")) (allow file-read* (subpath lib))))"#,
    r#"(allow file-read* (subpath "/opt/lib"))"#
)]
#[case::named_let_loop(
    r#"(let loop ((paths '("/a" "/b")))
         (unless (null? paths)
           (allow file-read* (literal (car paths)))
           (loop (cdr paths))))"#,
    r#"(allow file-read* (literal "/a")) (allow file-read* (literal "/b"))"#
)]
#[case::if_cond_when(
    r#"(if (param "HOME") (allow file-read* (literal "/h")) (allow file-read* (literal "/no")))
       (cond ((param "NOPE") (allow file-read* (literal "/x")))
             ((equal? "a" "b") (allow file-read* (literal "/y")))
             (else (allow file-read* (literal "/z"))))
       (when (param "NOPE") (allow file-read* (literal "/w")))"#,
    r#"(allow file-read* (literal "/h")) (allow file-read* (literal "/z"))"#
)]
#[case::and_or_not(
    r#"(when (and (param "HOME") (not (param "NOPE")) (or #f "x"))
         (allow file-read* (literal "/yes")))"#,
    r#"(allow file-read* (literal "/yes"))"#
)]
#[case::operation_lists(
    r#"(define ops '(file-read-data file-write-data)) (allow ops (literal "/x"))"#,
    r#"(allow file-read-data file-write-data (literal "/x"))"#
)]
#[case::nested_require_all_flattens(
    r#"(allow file-read* (require-all (require-all (literal "/a") (vnode-type REGULAR-FILE)) (file-mode #o644)))"#,
    r#"(allow file-read* (require-all (literal "/a") (vnode-type REGULAR-FILE) (file-mode 420)))"#
)]
#[case::several_arguments_are_any(
    r#"(allow file-read* (literal "/a" "/b"))"#,
    r#"(allow file-read* (require-any (literal "/a") (literal "/b")))"#
)]
#[case::aliases(
    r#"(allow process-exec (path "/bin/ls")) (allow ipc-posix-shm (ipc-posix-name "n"))"#,
    r#"(allow process-exec* (literal "/bin/ls")) (allow ipc-posix-shm* (ipc-posix-name "n"))"#
)]
#[case::subpath_trailing_slash(
    r#"(allow file-read* (subpath "/tmp/foo/"))"#,
    r#"(allow file-read* (subpath "/tmp/foo"))"#
)]
#[case::comments(
    "#| block #| nested |# |# #;(allow file-read* (literal \"/skipped\")) (allow file-read* (literal \"/a\")) ; done",
    r#"(allow file-read* (literal "/a"))"#
)]
fn scheme_forms_compile_like_their_flat_rules(#[case] written: &str, #[case] flat: &str) {
    assert_eq!(
        blob(&format!("{HEAD}{written}")),
        blob(&format!("{HEAD}{flat}"))
    );
}

/// The terminal a `file-read-data` walk ends at when its one filter matches.
fn matched_terminal(p: &Profile) -> Action {
    let read = Vocab::macos_14().op_id("file-read-data").unwrap();
    let Node::Filter { matched, .. } = p.nodes[usize::from(p.op_table[usize::from(read)])] else {
        panic!("file-read-data starts at a terminal");
    };
    match p.nodes[usize::from(matched)] {
        Node::Terminal(a) => a,
        other => panic!("match edge goes to {other:?}"),
    }
}

#[rstest]
#[case::plain_deny("(deny file-read-data (literal \"/x\"))", 0x5, None)]
#[case::no_report("(deny file-read-data (literal \"/x\") (with no-report))", 0x1, None)]
#[case::allow_report("(allow (with report) file-read-data (literal \"/x\"))", 0x4, None)]
#[case::grant("(allow file-read-data (literal \"/x\") (with grant))", 0x2, None)]
#[case::send_signal(
    "(deny file-read-data (literal \"/x\") (with send-signal SIGKILL))",
    0x80_0005,
    Some((1, 9))
)]
#[case::errno_number("(deny file-read-data (literal \"/x\") (with errno 2))", 0x80_0005, Some((2, 2)))]
fn modifiers_set_the_terminal(
    #[case] rule: &str,
    #[case] word: u32,
    #[case] modifier: Option<(u8, u16)>,
) {
    let base = if word & 1 == 1 {
        "(allow default)"
    } else {
        "(deny default)"
    };
    let p = decoded(&format!("(version 1)\n{base}\n{rule}"));
    let got = matched_terminal(&p);
    assert_eq!(got.word, word);
    assert_eq!(
        got.modifier,
        modifier.map(|(id, arg)| Modifier {
            id,
            policy_op: 0,
            arg
        })
    );
}

#[test]
fn a_parameter_given_twice_takes_the_last_value() {
    let src = "(version 1)\n(deny default)\n(allow file-read* (subpath (param \"ROOT\")))";
    let twice = compile(src, &opts(&[("ROOT", "/a"), ("ROOT", "/b")])).unwrap();
    let once = compile(src, &opts(&[("ROOT", "/b")])).unwrap();
    assert_eq!(twice, once);
}

#[test]
fn message_modifier_is_a_string_item() {
    let p = decoded(
        "(version 1)\n(allow default)\n(deny file-read-data (literal \"/x\") (with message \"no reading\"))",
    );
    let got = matched_terminal(&p);
    assert_eq!(got.word, 0x80_0005);
    let m = got.modifier.unwrap();
    assert_eq!(m.id, 10);
    assert_eq!(p.data_item(m.arg).unwrap(), b"no reading\0");
}

#[test]
fn deny_default_with_no_report() {
    let p = decoded("(version 1)\n(deny default (with no-report))");
    let last = *p.nodes.last().unwrap();
    assert_eq!(
        last,
        Node::Terminal(Action {
            word: 1,
            modifier: None
        })
    );
    assert_eq!(p.op_table[0] as usize, p.nodes.len() - 1);
}

/// The filter node a one-rule `mach-lookup` profile starts with.
fn first_filter(rule: &str, op: &str) -> (Profile, u8, bool, u16) {
    let p = decoded(&format!("(version 1)\n(allow default)\n{rule}"));
    let id = Vocab::macos_14().op_id(op).unwrap();
    match p.nodes[usize::from(p.op_table[usize::from(id)])] {
        Node::Filter {
            filter, alt, arg, ..
        } => (p, filter, alt, arg),
        other => panic!("{op} starts at {other:?}"),
    }
}

#[rstest]
#[case::vnode_type("(deny file-write* (vnode-type SYMLINK))", "file-write-data", 28, 5)]
#[case::vnode_type_tty("(deny file-write* (vnode-type TTY))", "file-write-data", 28, 0xffff)]
#[case::file_mode("(deny file-write* (file-mode #o4755))", "file-write-data", 3, 0o4755)]
#[case::target_others("(deny signal (target others))", "signal", 13, 3)]
#[case::socket_domain("(deny network-bind (socket-domain AF_UNIX))", "network-bind", 10, 1)]
#[case::socket_type("(deny network-bind (socket-type SOCK_RAW))", "network-bind", 11, 3)]
#[case::socket_protocol(
    "(deny network-bind (socket-protocol IPPROTO_UDP))",
    "network-bind",
    12,
    17
)]
#[case::hex_number("(deny network-bind (socket-protocol #x100))", "network-bind", 12, 256)]
fn integer_filters_keep_the_value_in_the_node(
    #[case] rule: &str,
    #[case] op: &str,
    #[case] filter: u8,
    #[case] value: u16,
) {
    let (_, f, alt, arg) = first_filter(rule, op);
    assert_eq!((f, alt, arg), (filter, false, value));
}

#[rstest]
#[case::global_name(
    "(deny mach-lookup (global-name \"com.apple.x\"))",
    "mach-lookup",
    5,
    b"\x4acom.apple.x\x0f\x00\x0f\x0a"
)]
#[case::global_name_prefix(
    "(deny mach-lookup (global-name-prefix \"com.apple.\"))",
    "mach-lookup",
    5,
    b"\x49com.apple.\x0f\x0a"
)]
#[case::local_name(
    "(deny mach-lookup (local-name \"x\"))",
    "mach-lookup",
    6,
    b"\x40x\x0f\x00\x0f\x0a"
)]
#[case::ipc_posix_name(
    "(deny ipc-posix-shm* (ipc-posix-name \"shm\"))",
    "ipc-posix-shm-read-data",
    4,
    b"\x42shm\x0f\x00\x0f\x0a"
)]
#[case::xattr(
    "(deny file-write-xattr (xattr \"com.apple.quarantine\"))",
    "file-write-xattr",
    2,
    b"\x53com.apple.quarantine\x0f\x00\x0f\x0a"
)]
#[case::sysctl_name(
    "(deny sysctl-read (sysctl-name \"kern.hostname\"))",
    "sysctl-read",
    37,
    b"\x4ckern.hostname\x0f\x00\x0f\x0a"
)]
#[case::process_path(
    "(deny process-exec* (process-path \"/bin/sh\"))",
    "process-exec*",
    38,
    b"\x46/bin/sh\x0f\x00\x0f\x0a"
)]
#[case::extension(
    "(deny file-read* (extension \"com.apple.app-sandbox.read\"))",
    "file-read-data",
    22,
    b"com.apple.app-sandbox.read\x00"
)]
fn string_filters_point_at_their_item(
    #[case] rule: &str,
    #[case] op: &str,
    #[case] filter: u8,
    #[case] item: &[u8],
) {
    let (p, f, alt, arg) = first_filter(rule, op);
    assert_eq!((f, alt), (filter, false));
    assert_eq!(p.data_item(arg).unwrap(), item);
}

#[test]
fn network_address_item() {
    let (p, f, _, arg) = first_filter(
        "(deny network-outbound (remote tcp \"localhost:443\"))",
        "network-outbound",
    );
    // network-outbound starts with the compiler's flow-divert check.
    assert_eq!(f, 9);
    let Node::Filter { unmatched, .. } = p.nodes[usize::from(p.op_table[112])] else {
        panic!()
    };
    let Node::Filter {
        filter, arg: addr, ..
    } = p.nodes[usize::from(unmatched)]
    else {
        panic!()
    };
    assert_eq!(filter, 8);
    let at = p.data_base + 8 * usize::from(addr);
    assert_eq!(&p.bytes[at..at + 4], [0x07, 0x01, 0xbb, 0x01]);
    let _ = arg;
}

#[test]
fn long_literal_uses_the_long_form() {
    let path = format!("/{}", "a".repeat(99));
    let (p, _, _, arg) = first_filter(
        &format!("(deny file-read* (literal \"{path}\"))"),
        "file-read-data",
    );
    let item = p.data_item(arg).unwrap();
    assert_eq!(&item[..2], [0x04, 100 - 0x41]);
    assert_eq!(&item[2..102], path.as_bytes());
    assert_eq!(&item[102..], [0x0f, 0x00, 0x0f, 0x0a]);
}

fn error(src: &str) -> String {
    compile(src, &Options::default()).unwrap_err().to_string()
}

#[rstest]
#[case::unknown_filter(
    "(version 1)\n(deny default)\n(allow file-read* (subpth \"/x\"))",
    "<sbpl>:3:19: unknown filter subpth; did you mean subpath?\n    in (subpth \"/x\")"
)]
#[case::unknown_operation(
    "(version 1)\n(deny default)\n(allow mach-lookp (global-name \"x\"))",
    "<sbpl>:3:8: unknown operation mach-lookp; did you mean mach-lookup?\n    in (allow mach-lookp (global-name \"x\"))"
)]
#[case::unbound_variable(
    "(version 1)\n(deny default)\n(define root \"/r\")\n(allow file-read* (subpath rot))",
    "<sbpl>:4:28: unbound variable rot; did you mean root?\n    in rot"
)]
#[case::unknown_modifier(
    "(version 1)\n(deny default)\n(deny file-read* (with no-reprt))",
    "<sbpl>:3:18: unknown modifier no-reprt; did you mean no-report?\n    in (with no-reprt)"
)]
#[case::constant_of_another_filter(
    "(version 1)\n(deny default)\n(allow network* (socket-domain SOCK_STREAM))",
    "<sbpl>:3:17: SOCK_STREAM is not a socket-domain constant; expected a number or one of \
     AF_UNSPEC, AF_UNIX, AF_LOCAL, AF_INET, AF_ROUTE, AF_LINK, AF_NDRV, AF_INET6, AF_SYSTEM, \
     AF_UTUN, AF_MULTIPATH, AF_VSOCK\n    in (socket-domain SOCK_STREAM)"
)]
#[case::value_too_big(
    "(version 1)\n(deny default)\n(allow network* (socket-protocol 70000))",
    "<sbpl>:3:17: 70000 does not fit the 16-bit argument of socket-protocol\n    in (socket-protocol 70000)"
)]
#[case::arity(
    "(version 1)\n(deny default)\n(define (f a) a)\n(f 1 2)",
    "<sbpl>:4:1: f takes 1 argument(s), got 2\n    in (f 1 2)"
)]
#[case::two_argument_modifiers(
    "(version 1)\n(allow default)\n(deny file-read* (with send-signal 9) (with message \"m\"))",
    "<sbpl>:3:1: a rule takes at most one modifier with an argument (the terminal node has room for one)\n    in (deny file-read* (with send-signal 9) (with message \"m\"))"
)]
#[case::set_undefined(
    "(version 1)\n(deny default)\n(set! x 1)",
    "<sbpl>:3:1: set! of x, which is not defined (define it first)\n    in (set! x 1)"
)]
#[case::version(
    "(version 2)\n(deny default)",
    "<sbpl>:1:1: only (version 1) is supported\n    in (version 2)"
)]
#[case::reader("(version 1)\n(deny default\n", "<sbpl>:2:1: unclosed '(' opened here")]
#[case::require_not_arity(
    "(version 1)\n(deny default)\n(allow file-read* (require-not (literal \"/a\") (literal \"/b\")))",
    "<sbpl>:3:19: (require-not ...) takes exactly one filter\n    in (require-not (literal \"/a\") (literal \"/b\"))"
)]
#[case::message_filter_operation(
    "(version 1)\n(deny default)\n(allow iokit-external-method)",
    "<sbpl>:3:8: operation iokit-external-method has no op-table entry in macOS 14.4.1 (it belongs to message filters)\n    in (allow iokit-external-method)"
)]
#[case::known_but_unsupported_filter(
    "(version 1)\n(deny default)\n(allow mach-lookup (message-name \"x\"))",
    "<sbpl>:3:20: filter message-name is in the macOS 14.4.1 vocabulary, but this compiler \
     does not know how its argument is encoded yet\n    in (message-name \"x\")"
)]
fn errors_name_the_place_the_form_and_a_fix(#[case] src: &str, #[case] expected: &str) {
    assert_eq!(error(src), expected);
}

#[test]
fn runaway_recursion_is_an_error_not_a_hang() {
    let e = error("(version 1)\n(deny default)\n(define (f x) (f x))\n(f 1)");
    assert!(e.contains("nested deeper than"), "{e}");
    let e = error("(version 1)\n(deny default)\n(let loop ((i 0)) (loop i))");
    assert!(
        e.contains("nested deeper than") || e.contains("steps"),
        "{e}"
    );
}

#[test]
fn doubling_values_is_an_error_not_an_allocation_storm() {
    let e =
        error("(version 1)\n(deny default)\n(define (f s) (f (string-append s s)))\n(f \"ab\")");
    assert!(e.contains("exceeds the limit"), "{e}");
    let e = error("(version 1)\n(deny default)\n(define (g l) (g (append l l)))\n(g '(1))");
    assert!(e.contains("exceeds the limit"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Run on a small stack, as a test thread has: no overflow, an error.
    let src = format!(
        "(version 1)\n(deny default)\n(allow file-read* {}(literal \"/a\"){})",
        "(require-any ".repeat(240),
        ")".repeat(240)
    );
    let e = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || error(&src))
        .unwrap()
        .join()
        .unwrap();
    assert!(e.contains("nested deeper than"), "{e}");
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn import_beside_the_file_then_the_search_path() {
    let dir = tempfile::tempdir().unwrap();
    let lib = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base.sb",
        "(define tmp \"/private/tmp\")\n(deny default)\n",
    );
    write(lib.path(), "extra.sb", "(allow file-read* (subpath tmp))\n");
    let main = write(
        dir.path(),
        "main.sb",
        "(version 1)\n(import \"base.sb\")\n(import \"extra.sb\")\n",
    );
    let search = SearchPath(vec![lib.path().to_path_buf()]);
    let ours = compile_file_with(&main, &Options::default(), &search).unwrap();
    let flat = blob("(version 1)\n(deny default)\n(allow file-read* (subpath \"/private/tmp\"))");
    assert_eq!(ours, flat);
}

#[test]
fn import_errors_name_the_imported_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        dir.path(),
        "base.sb",
        "(deny default)\n(allow file-read* (literl \"/a\"))\n",
    );
    let main = write(dir.path(), "main.sb", "(version 1)\n(import \"base.sb\")\n");
    let e = compile_file(&main, &Options::default()).unwrap_err();
    assert_eq!(e.file.as_deref(), Some(base.as_path()));
    assert_eq!((e.span.line, e.span.column), (2, 19));
    assert!(e.message.contains("did you mean literal?"), "{e}");
}

#[test]
fn import_cycles_and_missing_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.sb", "(import \"b.sb\")\n");
    write(dir.path(), "b.sb", "(import \"a.sb\")\n");
    let main = write(dir.path(), "main.sb", "(version 1)\n(import \"a.sb\")\n");
    let e = compile_file(&main, &Options::default()).unwrap_err();
    assert!(e.message.starts_with("import cycle: "), "{e}");
    assert!(e.message.ends_with("a.sb"), "{e}");
    let lonely = write(
        dir.path(),
        "lonely.sb",
        "(version 1)\n(import \"nowhere.sb\")\n",
    );
    let e = compile_file(&lonely, &Options::default()).unwrap_err();
    assert!(
        e.message
            .starts_with("cannot find \"nowhere.sb\" to import; looked in: "),
        "{e}"
    );
    assert!(e.message.contains("nowhere.sb"), "{e}");
}

#[test]
fn render_points_at_the_column() {
    let src = "(version 1)\n(deny default)\n(allow file-read* (subpth \"/x\"))";
    let e = compile(src, &Options::default()).unwrap_err();
    let text = e.render(Some(src));
    assert!(
        text.ends_with("    | (allow file-read* (subpth \"/x\"))\n    |                   ^"),
        "{text}"
    );
}
