//! The Scheme of real profiles and Apple's SBPL library, through the
//! compiled blob: a profile written with a language feature must compile to
//! exactly the bytes of the same rules written out flat; errors name the
//! file, line and column.

use pretty_assertions::assert_eq;
use rstest::rstest;
use sbcheck::sbpl::{compile, compile_file_with, Options, SearchPath};

fn opts(params: &[(&str, &str)]) -> Options {
    Options {
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn blob(src: &str) -> Vec<u8> {
    compile(src, &opts(&[("HOME", "/Users/me"), ("N", "42")])).unwrap_or_else(|e| panic!("{e}"))
}

fn error(src: &str) -> String {
    compile(src, &Options::default()).unwrap_err().to_string()
}

const HEAD: &str = "(version 1)\n(deny default)\n";

#[rstest]
#[case::arithmetic_and_comparison(
    r#"(when (and (= (+ 1 2) 3) (< 1 2 3) (>= 5 5) (<= (* 2 3) 6) (> (- 10 4) 5))
         (allow file-read* (literal "/yes")))
       (when (< 3 2) (allow file-read* (literal "/no")))"#,
    r#"(allow file-read* (literal "/yes"))"#
)]
#[case::string_numbers(
    r#"(when (= (string->number (param "N")) 42)
         (allow file-read* (literal (string-append "/n" (number->string (+ 1 (string->number "41")))))))"#,
    r#"(allow file-read* (literal "/n42"))"#
)]
#[case::string_procedures(
    r#"(define h (param "HOME"))
       (when (and (string-prefix? "/Users" h) (= (string-length h) 9) (string=? (substring h 7 9) "me"))
         (allow file-read* (subpath (substring h 0 6))))"#,
    r#"(allow file-read* (subpath "/Users"))"#
)]
#[case::regex_quote(
    r#"(allow file-read* (regex (string-append "^" (regex-quote "/a.b+c") "/")))"#,
    r#"(allow file-read* (regex #"^/a\.b\+c/"))"#
)]
#[case::regex_literal_is_a_string_to_string_procedures(
    r#"(allow file-read* (regex (string-append #"^/x\." "y$")))"#,
    r#"(allow file-read* (regex "^/x\.y$"))"#
)]
#[case::regex_literal_where_text_is_taken(
    r#"(allow file-read* (literal (param #"HOME")) (with message #"m\n"))
       (allow file-read-metadata (path-ancestors #"/a/b"))"#,
    r#"(allow file-read* (literal "/Users/me") (with message "m\\n"))
       (allow file-read-metadata (literal "/" "/a"))"#
)]
#[case::quasiquote(
    r#"(define extra '((literal "/b") (literal "/c")))
       (define p "/a")
       (define rule `(allow file-read* (literal ,p) ,@extra))
       (macro (emit form) rule)
       (emit)"#,
    r#"(allow file-read* (literal "/a") (literal "/b") (literal "/c"))"#
)]
#[case::macro_gets_the_whole_form(
    r#"(macro (read-only form) `(allow file-read* ,@(cdr form)))
       (read-only (literal "/a") (subpath "/b"))"#,
    r#"(allow file-read* (literal "/a") (subpath "/b"))"#
)]
#[case::lists(
    r#"(define ps (list "/c" "/b" "/a"))
       (for-each (lambda (p) (allow file-read* (literal p))) (reverse ps))
       (when (and (member "/b" ps) (not (member "/z" ps)) (= (length (append ps ps)) 6)
                  (equal? (cdr (assoc "k" '(("j" . 1) ("k" "v")))) '("v")))
         (allow file-write* (literal (car (cons "/w" '())))))"#,
    r#"(allow file-read* (literal "/a")) (allow file-read* (literal "/b"))
       (allow file-read* (literal "/c")) (allow file-write* (literal "/w"))"#
)]
#[case::case_and_set(
    r#"(define mode 'strict)
       (set! mode 'open)
       (case mode ((strict) (allow file-read* (literal "/s"))) ((open loose) (allow file-read* (literal "/o"))) (else #f))"#,
    r#"(allow file-read* (literal "/o"))"#
)]
#[case::defined(
    r#"(define x 1)
       (when (and (defined? 'x) (defined? 'literal) (defined? 'file-read*) (not (defined? 'nope)))
         (allow file-read* (literal "/d")))"#,
    r#"(allow file-read* (literal "/d"))"#
)]
#[case::empty_conditional_is_nothing(
    r#"(allow file-read* (literal "/a") (if #f (literal "/b")))"#,
    r#"(allow file-read* (literal "/a"))"#
)]
#[case::allow_as_a_value(
    r#"(define (grant op path) (op file-read* (literal path)))
       (grant allow "/a") (grant deny "/b")"#,
    r#"(allow file-read* (literal "/a")) (deny file-read* (literal "/b"))"#
)]
#[case::with_filter(
    r#"(with-filter (vnode-type REGULAR-FILE)
         (allow file-read* (literal "/a"))
         (allow file-write*))"#,
    r#"(allow file-read* (require-all (literal "/a") (vnode-type REGULAR-FILE)))
       (allow file-write* (vnode-type REGULAR-FILE))"#
)]
#[case::with_filter_reaches_called_procedures(
    r#"(define (r) (allow file-read* (literal "/a") (literal "/b")))
       (with-filter (vnode-type DIRECTORY) (r))"#,
    r#"(allow file-read* (require-all (require-any (literal "/a") (literal "/b")) (vnode-type DIRECTORY)))"#
)]
#[case::with_operations_and_modifier(
    r#"(with-operations (list file-write-data)
         (with-modifier (with report)
           (allow file-read-data (literal "/a"))))"#,
    r#"(allow file-read-data file-write-data (literal "/a") (with report))"#
)]
#[case::path_ancestors(
    r#"(allow file-read-metadata (path-ancestors "/a/b/c"))"#,
    r#"(allow file-read-metadata (literal "/" "/a" "/a/b"))"#
)]
#[case::library_aliases(
    r#"(allow file-fsctl) (allow ipc-posix-shm-read* (ipc-posix-name "n"))
       (allow mach-per-user-lookup file-read-data (path-literal "/p"))
       (allow system-misc) (allow file-unlink (literal "/u"))"#,
    r#"(allow system-fsctl) (allow ipc-posix-shm-read-data (ipc-posix-name "n"))
       (allow file-read-data (literal "/p"))
       (allow system*) (allow file-write-unlink (literal "/u"))"#
)]
#[case::no_op_operation_alone_makes_no_rule(r#"(allow qtn-download system-chud)"#, "")]
#[case::io_command(
    r#"(allow system-fsctl (fsctl-command (_IO "h" 47)))"#,
    r#"(allow system-fsctl (fsctl-command 26671))"#
)]
#[case::define_storage_class(
    r#"(define-storage-class "c1" (subpath "/data"))"#,
    r#"(allow storage-class-map (with assign-storage-class "c1") (subpath "/data"))"#
)]
#[case::trace_and_sandbox_options(
    r#"(trace "/tmp/trace.sb") (disable-callouts) (disable-full-symbolication)
       (allow file-read* (literal "/a") (with no-callout))"#,
    r#"(allow file-read* (literal "/a"))"#
)]
#[case::entitlements(
    r#"(allow mach-lookup (require-entitlement "com.apple.x"))
       (allow mach-lookup (require-entitlement "com.apple.y" (entitlement-value "v")))
       (allow mach-lookup (require-entitlement "com.apple.z" (entitlement-value-regex #"^a")))"#,
    r#"(allow mach-lookup (require-all (%entitlement-load "com.apple.x") (%entitlement-boolean #t)))
       (allow mach-lookup (require-all (%entitlement-load "com.apple.y") (%entitlement-string "v")))
       (allow mach-lookup (require-all (%entitlement-load "com.apple.z") (%entitlement-string-regex #"^a")))"#
)]
#[case::filter_shortcuts(
    r#"(allow file-read* (tty) (process-is-plugin) (debug-mode))"#,
    r#"(allow file-read* (vnode-type TTY) (process-attribute is-plugin) (system-attribute sandbox-debug-mode))"#
)]
#[case::chars(
    r#"(when (and (char=? (string-ref "/x" 0) #\/) (eqv? #\a #\a) (= (char->integer #\space) 32))
         (allow file-read* (literal (list->string (list #\/ #\c)))))"#,
    r#"(allow file-read* (literal "/c"))"#
)]
#[case::preprocessor_lines(
    "#define FEATURE 1\n#if FEATURE && !defined(OTHER)\n(allow file-read* (literal \"/on\"))\n#else\n(allow file-read* (literal \"/off\"))\n#endif",
    r#"(allow file-read* (literal "/on"))"#
)]
#[case::first_of_several_values(
    r#"(define p "/a" "/ignored") (let ((q "/b" "/ignored")) (allow file-read* (literal p q)))"#,
    r#"(allow file-read* (literal "/a" "/b"))"#
)]
fn language_forms_compile_like_their_flat_rules(#[case] written: &str, #[case] flat: &str) {
    let src = format!("{HEAD}{written}");
    assert_eq!(blob(&src), blob(&format!("{HEAD}{flat}")));
}

#[test]
fn no_default_is_deny_default() {
    assert_eq!(
        blob("(version 1)\n(allow file-read* (literal \"/a\"))"),
        blob("(version 1)\n(deny default)\n(allow file-read* (literal \"/a\"))")
    );
}

#[test]
fn deny_default_names_operations_beside_it() {
    assert_eq!(
        blob("(version 1)\n(deny default file-write-data)\n(allow file-read*)"),
        blob("(version 1)\n(deny default)\n(deny file-write-data)\n(allow file-read*)")
    );
}

#[rstest]
#[case::unknown_form("(frobnicate 1)", "<sbpl>:3:1: unknown form (frobnicate ...)")]
#[case::misspelt_procedure_gets_a_hint(
    "(define n (string-lenth \"ab\"))",
    "<sbpl>:3:11: unknown form (string-lenth ...); did you mean string-length?"
)]
#[case::set_of_undefined("(set! nope 1)", "<sbpl>:3:1: set! of nope, which is not defined")]
#[case::arithmetic_type("(+ 1 \"2\")", "<sbpl>:3:1: +: expected a number, got string")]
#[case::substring_range(
    "(substring \"ab\" 1 5)",
    "<sbpl>:3:1: substring: index 5 is out of range"
)]
#[case::unquote_splicing_needs_a_list(
    "(define x 1) `(a ,@x)",
    "<sbpl>:3:18: unquote-splicing (,@) needs a list, got integer"
)]
#[case::error_procedure("(error \"bad thing\" 42)", "<sbpl>:3:1: error: bad thing 42")]
#[case::trace_twice(
    "(trace \"/a\") (trace \"/b\")",
    "<sbpl>:3:14: only one trace path may be specified"
)]
#[case::storage_class_twice(
    "(define-storage-class \"c\" (subpath \"/a\"))\n(define-storage-class \"c\" (subpath \"/b\"))",
    "<sbpl>:4:1: storage class \"c\" multiply defined"
)]
#[case::path_ancestors_relative(
    "(allow file-read* (path-ancestors \"a/b\"))",
    "<sbpl>:3:19: path-ancestors: path must start with a /"
)]
#[case::preprocessor("#if 1\n(allow file-read*)", "<sbpl>:3:1: #if without #endif")]
#[case::bad_char("(define c #\\nope)", "<sbpl>:3:11: unknown character name #\\nope")]
#[case::macro_expanding_to_a_procedure(
    "(macro (m form) car) (m)",
    "<sbpl>:3:22: a macro expanded to a procedure value"
)]
fn errors_name_the_place(#[case] src: &str, #[case] starts: &str) {
    let e = error(&format!("{HEAD}{src}"));
    assert!(
        e.starts_with(starts),
        "{e}\n  does not start with\n{starts}"
    );
}

#[test]
fn import_dir_parameter_and_preprocessor_include() {
    let dir = std::env::temp_dir().join(format!("sbcheck-sbpl-lang-{}", std::process::id()));
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(
        lib.join("common.sb"),
        "(allow file-read* (literal \"/common\"))\n",
    )
    .unwrap();
    let main = dir.join("main.sb");
    std::fs::write(
        &main,
        "(version 1)\n(deny default)\n(import \"common.sb\")\n#include \"common.sb\"\n",
    )
    .unwrap();
    let with_dir = opts(&[("IMPORT_DIR", lib.to_str().unwrap())]);
    let got = compile_file_with(&main, &with_dir, &SearchPath::default()).unwrap();
    let flat = blob(&format!(
        "{HEAD}(allow file-read* (literal \"/common\"))\n(allow file-read* (literal \"/common\"))"
    ));
    assert_eq!(got, flat);
    let e = compile_file_with(&main, &Options::default(), &SearchPath::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("main.sb:3:1: cannot find \"common.sb\""),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A profile that uses most of the language, for the mutation test.
const SEED: &str = r#"(version 1)
(deny default)
#define LEVEL 2
#if LEVEL >= 2 && !defined(OFF)
(define home (param "HOME"))
#endif
(define (home-subpath p) (subpath (string-append home p)))
(macro (read-only form) `(allow file-read* ,@(cdr form)))
(read-only (home-subpath "/Library") (literal "/etc/hosts"))
(with-filter (vnode-type REGULAR-FILE)
  (allow file-write* (regex (string-append "^" (regex-quote home) #"/x\.[a-z]{2,4}$"))))
(let loop ((i 0))
  (when (< i 3)
    (allow mach-lookup (global-name (string-append "com.x." (number->string i))))
    (loop (+ i 1))))
(case (string-length home) ((9) (allow file-read-metadata (path-ancestors "/a/b/c"))) (else #f))
(allow file-read* (if (char=? (string-ref home 0) #\/) (literal "/ok")))
"#;

/// Mutated profiles (bytes dropped, syntax inserted) never panic or hang,
/// and every error names a line of the text, as the fuzz target checks for
/// the compiler as a whole.
#[test]
fn mutated_profiles_fail_cleanly() {
    const INSERTS: &[&str] = &[
        "(",
        ")",
        "`",
        ",",
        ",@",
        "'",
        "\"",
        "#\\",
        "#\"",
        "#if 1\n",
        "\n#endif\n",
        "\n#else\n",
        "#include \"x.sb\"\n",
        "(macro (m f) f)",
        "(m)",
        "(set! home 1)",
        "{99999}",
        "\\w",
        "(define)",
        "(+ 1 \"a\")",
        "(quasiquote)",
        "#\\space",
        "9223372036854775807",
    ];
    let lines = |text: &str| text.lines().count().max(1) as u32 + 1;
    let mut seed: u64 = 0x5eed_1234;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let options = opts(&[("HOME", "/Users/me")]);
    if let Err(e) = compile(SEED, &options) {
        panic!("the unmutated seed must compile: {e}");
    }
    for round in 0..600 {
        let mut text = SEED.to_owned();
        for _ in 0..1 + next() % 4 {
            let mut at = (next() as usize) % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            if next() % 2 == 0 {
                text.insert_str(at, INSERTS[(next() as usize) % INSERTS.len()]);
            } else {
                let mut end = (at + 1 + (next() as usize) % 8).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                text.replace_range(at..end, "");
            }
        }
        let result = std::panic::catch_unwind(|| compile(&text, &options));
        let Ok(result) = result else {
            panic!("round {round}: the compiler panicked on:\n{text}");
        };
        if let Err(e) = result {
            assert!(
                e.span.line >= 1 && e.span.line <= lines(&text),
                "round {round}: error line {} outside the text: {e}\n{text}",
                e.span.line
            );
        }
    }
}
