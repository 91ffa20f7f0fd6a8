//! Filter forms, aliases, modifiers and network addresses of real-world
//! SBPL, through the compiled blob: each spelling must compile to exactly
//! the bytes of its canonical form, and network rules must decide on the
//! addresses a query gives.

use rstest::rstest;
use sbcheck::blob::Profile;
use sbcheck::decision::{evaluate, Args, Verdict};
use sbcheck::sbpl::{compile, Options};
use sbcheck::vocab::{filter, Vocab};

const HEAD: &str = "(version 1)\n(deny default)\n";

fn blob(body: &str) -> Vec<u8> {
    compile(&format!("{HEAD}{body}"), &Options::default()).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn error(body: &str) -> String {
    compile(&format!("{HEAD}{body}"), &Options::default())
        .unwrap_err()
        .to_string()
}

/// Spellings of Apple's library and real profiles, and the form they mean.
#[rstest]
#[case::user_client_class_alias(
    r#"(allow iokit-open-user-client (iokit-user-client-class "IOSurfaceRootUserClient"))"#,
    r#"(allow iokit-open-user-client (iokit-registry-entry-class "IOSurfaceRootUserClient"))"#
)]
#[case::user_client_class_regex_alias(
    r#"(allow iokit-open-user-client (iokit-user-client-class-regex #"^AGX"))"#,
    r#"(allow iokit-open-user-client (iokit-registry-entry-class-regex #"^AGX"))"#
)]
#[case::nested_prefix_is_the_prefix_variant(
    r#"(allow mach-lookup (xpc-service-name (prefix "com.apple.WebKit.")))"#,
    r#"(allow mach-lookup (xpc-service-name-prefix "com.apple.WebKit."))"#
)]
#[case::nested_regex_is_the_regex_variant(
    r#"(allow user-preference-read (preference-domain (regex #"^com\.apple\.")))"#,
    r#"(allow user-preference-read (preference-domain-regex #"^com\.apple\."))"#
)]
#[case::regex_literal_given_to_a_string_filter(
    r#"(allow file-read-xattr (xattr #"^com\.apple\.security\.private\."))"#,
    r#"(allow file-read-xattr (xattr-regex #"^com\.apple\.security\.private\."))"#
)]
#[case::mount_relative_regex_alias(
    r#"(allow file-read* (mount-relative-regex #"^/x"))"#,
    r#"(allow file-read* (mount-relative-path-regex #"^/x"))"#
)]
#[case::several_strings_mean_any(
    r#"(allow file-read* (extension-class "a" "b"))"#,
    r#"(allow file-read* (require-any (extension-class "a") (extension-class "b")))"#
)]
#[case::symbolic_integers(
    r#"(allow file-read* (process-attribute is-platform-binary) (system-attribute apple-internal) (file-attribute datavault))"#,
    r#"(allow file-read* (process-attribute 4) (system-attribute 0) (file-attribute 1))"#
)]
#[case::fsctl_and_privilege_constants(
    r#"(allow system-fsctl (fsctl-command HFSIOC_SET_HOTFILE_STATE)) (allow system-privilege (privilege-id PRIV_VM_JETSAM))"#,
    r#"(allow system-fsctl (fsctl-command 26671)) (allow system-privilege (privilege-id 6001))"#
)]
#[case::syscall_names(
    r#"(allow file-read* (syscall-number SYS_read SYS_write SYS___pthread_kill))"#,
    r#"(allow file-read* (syscall-number 3 4 328))"#
)]
#[case::booleans_are_one_and_zero(
    r#"(allow file-read* (storage-class-extension #t) (%entitlement-boolean #f))"#,
    r#"(allow file-read* (storage-class-extension 1) (%entitlement-boolean 0))"#
)]
#[case::bare_boolean_filter_is_true(
    r#"(allow file-read* (require-all (extension "x") (extension-path-ancestor)))"#,
    r#"(allow file-read* (require-all (extension "x") (extension-path-ancestor #t)))"#
)]
#[case::no_log_is_no_report(
    r#"(deny file-write* (with no-log) (literal "/a"))"#,
    r#"(deny file-write* (with no-report) (literal "/a"))"#
)]
#[case::termination_is_send_signal_sigkill(
    r#"(deny process-exec* (with termination) (literal "/b"))"#,
    r#"(deny process-exec* (with send-signal SIGKILL) (literal "/b"))"#
)]
#[case::inline_modifier_without_argument_is_zero(
    r#"(deny file-write* (with telemetry-backtrace) (literal "/a"))"#,
    r#"(deny file-write* (with telemetry-backtrace 0) (literal "/a"))"#
)]
#[case::deprecated_modifiers_leave_the_rule(
    r#"(deny file-write* (with no-callout) (with partial-symbolication) (literal "/a"))"#,
    r#"(deny file-write* (literal "/a"))"#
)]
#[case::unix_socket_path_is_the_path_filter(
    r#"(allow network-outbound (remote unix-socket (path-literal "/private/var/run/syslog")))"#,
    r#"(allow network-outbound (literal "/private/var/run/syslog"))"#
)]
#[case::bare_unix_socket_is_the_unix_domain(
    r#"(allow network-bind (local unix-socket))"#,
    r#"(allow network-bind (socket-domain AF_UNIX))"#
)]
#[case::several_addresses_mean_any(
    r#"(allow network-outbound (remote tcp "*:80" "*:443"))"#,
    r#"(allow network-outbound (require-any (remote tcp "*:80") (remote tcp "*:443")))"#
)]
#[case::host_local_is_localhost(
    r#"(allow network-outbound (remote udp "local:53"))"#,
    r#"(allow network-outbound (remote udp "localhost:53"))"#
)]
#[case::from_and_to(
    r#"(allow network-bind (from ip "localhost:*")) (allow network-outbound (to tcp "*:22"))"#,
    r#"(allow network-bind (local ip "localhost:*")) (allow network-outbound (remote tcp "*:22"))"#
)]
#[case::protocol_only_is_any_address(
    r#"(allow network-outbound (remote tcp))"#,
    r#"(allow network-outbound (remote tcp "*:*"))"#
)]
fn spelling_compiles_to_its_canonical_bytes(#[case] spelling: &str, #[case] canonical: &str) {
    assert_eq!(blob(spelling), blob(canonical));
}

#[rstest]
#[case::numeric_host(
    r#"(allow network-outbound (remote tcp "10.0.0.1:80"))"#,
    "only * and localhost"
)]
#[case::unknown_protocol(
    r#"(allow network-outbound (remote sctp "*:1"))"#,
    "unbound variable sctp"
)]
#[case::protocol_not_a_symbol(
    r#"(allow network-outbound (remote "tcp" "*:1"))"#,
    "(remote tcp \"*:443\")"
)]
#[case::bad_port(r#"(allow network-outbound (remote tcp "*:http"))"#, "port")]
#[case::unknown_symbol(
    r#"(allow file-read* (process-attribute is-a-teapot))"#,
    "unbound variable is-a-teapot"
)]
#[case::misspelt_symbol_gets_a_hint(
    r#"(allow file-read* (process-attribute is-platfrom-binary))"#,
    "did you mean is-platform-binary?"
)]
#[case::constant_of_another_filter(
    r#"(allow file-read* (process-attribute apple-internal))"#,
    "apple-internal is not a process-attribute constant; expected a number or one of is-plugin"
)]
#[case::boolean_filter_needs_no_argument_but_others_do(
    r#"(allow file-read* (privilege-id))"#,
    "needs an argument"
)]
#[case::deprecated_modifier_takes_no_argument(
    r#"(allow file-read* (with no-callout 1))"#,
    "takes no argument"
)]
fn bad_forms_say_what_is_wrong(#[case] body: &str, #[case] expected: &str) {
    let e = error(body);
    assert!(e.contains(expected), "{e}");
    assert!(e.starts_with("<sbpl>:3:"), "{e}");
}

/// Every vocabulary filter whose argument kind is known has a form.
#[test]
fn every_known_filter_compiles() {
    let v = Vocab::macos_14();
    let mut compiled = 0;
    for &name in &v.filters {
        let arg = match sbcheck::blob::filters::arg_kind(name) {
            Some(sbcheck::blob::ArgKind::Int) => "1",
            Some(_) => "\"x\"",
            None => continue,
        };
        let bytes = blob(&format!("(allow file-read* ({name} {arg}))"));
        let p = Profile::decode(&bytes).unwrap();
        let id = v.filter_id(name).unwrap();
        assert!(
            p.nodes
                .iter()
                .any(|n| matches!(n, sbcheck::blob::Node::Filter { filter, .. } if *filter == id)),
            "{name}"
        );
        compiled += 1;
    }
    assert!(compiled >= 85, "{compiled} filters");
}

fn decide(p: &Profile, op: &str, strings: &[(u8, &[u8])], ints: &[(u8, u16)]) -> Option<Verdict> {
    let op = p.vocab.op_id(op).unwrap();
    let args = Args {
        path: None,
        ints,
        strings,
    };
    evaluate(p, op, &args).verdict()
}

#[test]
fn network_rules_decide_on_the_address() {
    let p = Profile::decode(&blob(
        r#"(allow network-outbound (remote tcp "*:443") (remote ip "localhost:*"))
           (allow network-bind (local udp4 "*:53"))"#,
    ))
    .unwrap();
    let out = |addr: &str| {
        decide(
            &p,
            "network-outbound",
            &[(filter::REMOTE, addr.as_bytes())],
            &[],
        )
    };
    assert_eq!(out("tcp:93.184.216.34:443"), Some(Verdict::Allow));
    assert_eq!(out("tcp:[2001:db8::1]:443"), Some(Verdict::Allow));
    assert_eq!(out("tcp:93.184.216.34:80"), Some(Verdict::Deny));
    assert_eq!(out("udp:93.184.216.34:443"), Some(Verdict::Deny));
    assert_eq!(out("udp:127.0.0.1:9"), Some(Verdict::Allow));
    assert_eq!(out("ip:[::1]:0"), Some(Verdict::Allow));
    assert_eq!(out("unix:/tmp/s"), Some(Verdict::Deny));
    // No address given: undetermined, never guessed; but no control name
    // is needed (the flow-divert test does not match a socket without one).
    assert_eq!(decide(&p, "network-outbound", &[], &[]), None);
    let bind = |addr: &str| decide(&p, "network-bind", &[(filter::LOCAL, addr.as_bytes())], &[]);
    assert_eq!(bind("udp:0.0.0.0:53"), Some(Verdict::Allow));
    assert_eq!(bind("udp:[::]:53"), Some(Verdict::Deny));
    assert_eq!(bind("tcp:0.0.0.0:53"), Some(Verdict::Deny));
}

#[test]
fn network_outbound_needs_no_control_name() {
    let p = Profile::decode(&blob("(allow network-outbound (socket-domain AF_INET))")).unwrap();
    let domain = [(filter::SOCKET_DOMAIN, 2u16)];
    assert_eq!(
        decide(&p, "network-outbound", &[], &domain),
        Some(Verdict::Allow)
    );
    let flow = [(filter::CONTROL_NAME, &b"com.apple.flow-divert"[..])];
    assert_eq!(
        decide(
            &p,
            "network-outbound",
            &flow,
            &[(filter::SOCKET_DOMAIN, 32)]
        ),
        Some(Verdict::Allow)
    );
    assert_eq!(
        decide(&p, "network-outbound", &[], &[(filter::SOCKET_DOMAIN, 30)]),
        Some(Verdict::Deny)
    );
}

/// `sbcheck eval` with `--arg remote=...` and no control name.
#[test]
fn eval_takes_addresses_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let sb = dir.path().join("net.sb");
    std::fs::write(
        &sb,
        format!("{HEAD}(allow network-outbound (remote tcp \"localhost:8080\"))\n"),
    )
    .unwrap();
    let eval = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sbcheck"))
            .arg("eval")
            .arg(&sb)
            .arg("network-outbound")
            .args(args)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (out, _) = eval(&["--arg", "remote=tcp:127.0.0.1:8080"]);
    assert!(out.starts_with("allow\n"), "{out}");
    assert!(out.contains("(remote tcp \"localhost:8080\")"), "{out}");
    let (out, _) = eval(&["--arg", "remote=tcp:127.0.0.1:8081"]);
    assert!(out.starts_with("deny\n"), "{out}");
    let (out, _) = eval(&["--arg", "remote=tcp:192.0.2.1:8080"]);
    assert!(out.starts_with("deny\n"), "{out}");
    let (_, err) = eval(&["--arg", "remote=127.0.0.1"]);
    assert!(err.contains("PROTO:HOST:PORT"), "{err}");
}

/// Sixteen or more values of one integer filter make a mask node that
/// decides like the values one by one.
#[test]
fn many_integer_values_compile_to_a_mask() {
    let values: Vec<String> = (100..120)
        .filter(|v| v % 3 != 0)
        .map(|v| v.to_string())
        .collect();
    assert!(values.len() >= 13);
    let many: Vec<String> = (200..216).map(|v| v.to_string()).collect();
    let p = Profile::decode(&blob(&format!(
        "(allow file-read* (syscall-number {}))\n(allow file-write* (syscall-number {}))",
        many.join(" "),
        values.join(" ")
    )))
    .unwrap();
    let masks = p
        .nodes
        .iter()
        .filter(|n| matches!(n, sbcheck::blob::Node::Filter { alt: true, .. }))
        .count();
    assert_eq!(masks, 1, "only the 16-value form is a mask");
    let id = Vocab::macos_14().filter_id("syscall-number").unwrap();
    for v in 190..230u16 {
        let want = if (200..216).contains(&v) {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        assert_eq!(
            decide(&p, "file-read-data", &[], &[(id, v)]),
            Some(want),
            "{v}"
        );
    }
    for v in 95..125u16 {
        let want = if (100..120).contains(&v) && v % 3 != 0 {
            Verdict::Allow
        } else {
            Verdict::Deny
        };
        assert_eq!(
            decide(&p, "file-write-data", &[], &[(id, v)]),
            Some(want),
            "{v}"
        );
    }
}

/// Modifiers no blob shows are inline modifiers with their reported ids,
/// and the decoder prints them back as written.
#[test]
fn unseen_modifiers_are_inline_with_their_ids() {
    for (name, id) in [("user-approval", 9u8), ("telemetry-backtrace", 15)] {
        let p = Profile::decode(&blob(&format!(
            "(deny file-write* (with {name} 3) (literal \"/a\"))"
        )))
        .unwrap();
        let modifiers: Vec<(u8, u16)> = p
            .nodes
            .iter()
            .filter_map(|n| match n {
                sbcheck::blob::Node::Terminal(a) => a.modifier.map(|m| (m.id, m.arg)),
                _ => None,
            })
            .collect();
        assert_eq!(modifiers, [(id, 3)], "{name}");
        let text = sbcheck::blob::render::action_text(
            &p,
            &p.nodes
                .iter()
                .find_map(|n| match n {
                    sbcheck::blob::Node::Terminal(a) if a.modifier.is_some() => Some(*a),
                    _ => None,
                })
                .unwrap(),
        );
        assert_eq!(text, format!("deny (with {name} 3)"));
    }
}
