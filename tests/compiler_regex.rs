//! Regex literals compiled to AppleMatch v3 and placed in the regex table.
//!
//! The vectors are the regexes of Apple's iOS 17 and iOS 26 platform
//! profiles: the bytes are Apple's, the sources are those bytes rendered back
//! by the decoder research (the original SBPL is not public). Rebuilding each
//! program byte for byte from its rendered source pins the code generation
//! rules documented in `src/sbpl/regex.rs`.

use rstest::rstest;
use sbcheck::blob::{Node, Profile};
use sbcheck::sbpl::regex::{run_program, Regex};
use sbcheck::sbpl::{compile, Options};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Where two programs part, for a readable failure.
fn first_difference(ours: &[u8], apple: &[u8]) -> String {
    let at = ours
        .iter()
        .zip(apple)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(apple.len()));
    format!(
        "first difference at code byte {at}: ours {:02x?} apple {:02x?} (lengths {} vs {})",
        &ours[at..(at + 6).min(ours.len())],
        &apple[at..(at + 6).min(apple.len())],
        ours.len(),
        apple.len()
    )
}

#[rstest]
#[case::ios17_regex_0(
    r#"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)/Library/Safari/(com\.apple\.)?Bookmark"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f2f9f002f8f002f7900026d026f02620269",
        "026c0265022f024c026902620272026102720279022f025302610266026102720269022f2f67000263026f02",
        "6d022e026102700270026c0265022e0242026f026f026b026d02610272026b1500026502750273026502721b",
        "30392f8c000a83000a30003b2d2d303941462f9c000a8f000a300002550273026502720273022f1b302e2fb4",
        "000aab000a3000",
    )
)]
#[case::ios17_regex_1(
    r#"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)/Containers/Data/[^/]+/[^/]+/Library/Application Support/iCloudDrive/[^/]+/session/r(/|$)"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f2f06012ff6002fe000026d026f02620269",
        "026c0265022f0243026f026e027402610269026e026502720273022f0244026102740261022f1b302e2f5b00",
        "0a5200022f1b302e2f66000a5d00022f024c026902620272026102720279022f024102700270026c02690263",
        "026102740269026f026e02200253027502700270026f02720274022f02690243026c026f0275026402440272",
        "026902760265022f1b302e2fc1000ab800022f02730265027302730269026f026e022f02722fdc00022f1500",
        "290ada00026502750273026502721b30392ff3000aea000a30003b2d2d303941462f03010af6000a30000255",
        "0273026502720273022f1b302e2f1b010a12010a3000",
    )
)]
#[case::ios17_regex_2(
    r#"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)/Containers/Shared/AppGroup/[^/]+/File Provider Storage(/|$)"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f2fce002fbe002fa800026d026f02620269",
        "026c0265022f0243026f026e027402610269026e026502720273022f025302680261027202650264022f0241",
        "0270027002470272026f02750270022f1b302e2f71000a6800022f02460269026c0265022002500272026f02",
        "760269026402650272022002530274026f02720261026702652fa400022f1500290aa2000265027502730265",
        "02721b30392fbb000ab2000a30003b2d2d303941462fcb000abe000a300002550273026502720273022f1b30",
        "2e2fe3000ada000a3000",
    )
)]
#[case::ios17_regex_3(
    r#"^/private/var/PersonaVolumes/[^/]+(/|$)"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f0250026502720273026f026e0261025602",
        "6f026c0275026d02650273022f1b302e2f42000a39002f4900022f1500290a4700",
    )
)]
#[case::ios17_regex_4(
    r#"^/mnt[1-9][0-9]*(/|$)"#,
    "19022f026d026e02741b31392f15001b30390a0c002f1c00022f1500290a1a00"
)]
#[case::ios17_regex_5(
    r#"^/private/var/Users/[\-0-9A-F]+/?$"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f02550273026502720273022f3b2d2d3039",
        "41462f34000a27002f3c00022f2915000a3900",
    )
)]
#[case::ios17_regex_6(
    r#"^/dev/ttys[0-9]*"#,
    "19022f026402650276022f02740274027902732f1c001b30390a13001500"
)]
#[case::ios17_regex_7(
    r#"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)/Media/([^/]+/)?iTunes_Control/iTunes(/|$)"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f2fa7002f97002f8100026d026f02620269",
        "026c0265022f024d0265026402690261022f2f4c001b302e2f4a000a4100022f026902540275026e02650273",
        "025f0243026f026e02740272026f026c022f026902540275026e026502732f7d00022f1500290a7b00026502",
        "750273026502721b30392f94000a8b000a30003b2d2d303941462fa4000a97000a3000025502730265027202",
        "73022f1b302e2fbc000ab3000a3000",
    )
)]
#[case::ios26_regex_1(
    r#"^/private/var/(mobile|euser[0-9]+|[\-0-9A-F]+|Users/[^/]+)/Containers/(Temp/)?Data/[^/]+/[^/]+/Library/Application Support/iCloudDrive/[^/]+/session/r(/|$)"#,
    concat!(
        "19022f0270027202690276026102740265022f027602610272022f2f13012f03012fed00026d026f02620269",
        "026c0265022f0243026f026e027402610269026e026502720273022f2f550002540265026d0270022f024402",
        "6102740261022f1b302e2f68000a5f00022f1b302e2f73000a6a00022f024c02690262027202610272027902",
        "2f024102700270026c02690263026102740269026f026e02200253027502700270026f02720274022f026902",
        "43026c026f0275026402440272026902760265022f1b302e2fce000ac500022f02730265027302730269026f",
        "026e022f02722fe900022f1500290ae700026502750273026502721b30392f00010af7000a30003b2d2d3039",
        "41462f10010a03010a300002550273026502720273022f1b302e2f28010a1f010a3000",
    )
)]
fn apple_platform_regexes_rebuild_byte_for_byte(#[case] source: &str, #[case] apple_hex: &str) {
    let apple = unhex(apple_hex);
    let ours = Regex::parse(source).unwrap().program().unwrap();
    assert!(
        ours == apple,
        "{source}\n{}",
        first_difference(&ours, &apple)
    );
}

/// docs/seatbelt-format.md's AppleMatch vector, as a whole regex-table item.
#[test]
fn format_doc_item() {
    let item = Regex::parse("^/a/b/c*").unwrap().item().unwrap();
    assert_eq!(
        item,
        unhex("00000003150019022f0261022f0262022f2f130002630a0b001500")
    );
}

#[rstest]
#[case::subpath_like(
    "^/private/var/PersonaVolumes/[^/]+(/|$)",
    "/private/var/PersonaVolumes/x",
    true
)]
#[case::subpath_like_child(
    "^/private/var/PersonaVolumes/[^/]+(/|$)",
    "/private/var/PersonaVolumes/x/y",
    true
)]
#[case::needs_a_component(
    "^/private/var/PersonaVolumes/[^/]+(/|$)",
    "/private/var/PersonaVolumes/",
    false
)]
#[case::unanchored_start("/\\.CFUserTextEncoding$", "/Users/a/.CFUserTextEncoding", true)]
#[case::anchored_end("/\\.CFUserTextEncoding$", "/Users/a/.CFUserTextEncoding.x", false)]
#[case::prefix_is_enough("^/dev/ttys[0-9]*", "/dev/ttys004/extra", true)]
#[case::optional_atom(
    "^/private/var/Users/[\\-0-9A-F]+/?$",
    "/private/var/Users/AB-12/",
    true
)]
#[case::optional_atom_absent(
    "^/private/var/Users/[\\-0-9A-F]+/?$",
    "/private/var/Users/AB-12",
    true
)]
#[case::class_excludes("^/private/var/Users/[\\-0-9A-F]+/?$", "/private/var/Users/ab", false)]
fn programs_match_like_the_regex(
    #[case] source: &str,
    #[case] input: &str,
    #[case] expected: bool,
) {
    let regex = Regex::parse(source).unwrap();
    assert_eq!(regex.is_match(input.as_bytes()), expected, "semantics");
    let code = regex.program().unwrap();
    assert_eq!(
        run_program(&code, input.as_bytes()),
        Ok(expected),
        "program"
    );
}

/// A profile with regexes: the header counts them, the table points at
/// their items, filter nodes carry bit 0x80 and the table index, and equal
/// regexes share one entry.
#[test]
fn regexes_go_to_the_regex_table() {
    let src = r#"(version 1)
(deny default)
(allow file-read-data (regex #"^/usr/lib/.*\.dylib$"))
(allow file-write* (regex #"^/tmp/[^/]+$") (regex #"^/usr/lib/.*\.dylib$"))
(allow mach-lookup (global-name-regex #"^com\.apple\."))
"#;
    let blob = compile(src, &Options::default()).unwrap();
    let p = Profile::decode(&blob).unwrap();
    assert_eq!(p.header.regex_count, 3);
    // Tables: header 14, regex offsets 6, op table 380 -> 400, already aligned.
    assert_eq!(p.nodes_offset, 400);
    let table: Vec<u16> = (0..3)
        .map(|i| u16::from_le_bytes([blob[14 + 2 * i], blob[15 + 2 * i]]))
        .collect();
    let sources = ["^/usr/lib/.*\\.dylib$", "^/tmp/[^/]+$", "^com\\.apple\\."];
    for (i, src) in sources.iter().enumerate() {
        let item = p.data_item(table[i]).unwrap();
        assert_eq!(
            item,
            Regex::parse(src).unwrap().item().unwrap(),
            "regex {i}"
        );
    }
    let mut regex_nodes: Vec<(u8, u16)> = p
        .nodes
        .iter()
        .filter_map(|n| match *n {
            Node::Filter {
                filter,
                alt: true,
                arg,
                ..
            } => Some((filter, arg)),
            _ => None,
        })
        .collect();
    regex_nodes.sort_unstable();
    regex_nodes.dedup();
    // path regexes 0 and 1, global-name (filter 5) regex 2.
    assert_eq!(regex_nodes, [(0, 0), (0, 1), (5, 2)]);
}

#[test]
fn bad_regex_is_a_compile_error_at_the_filter() {
    let src = "(version 1)\n(deny default)\n(allow file-read* (regex #\"^/a(b\"))";
    let e = compile(src, &Options::default()).unwrap_err();
    assert_eq!(e.span.line, 3);
    assert_eq!(e.span.column, 19);
    assert!(
        e.message
            .contains("bad regex #\"^/a(b\": regex byte 3: unclosed '(' opened here"),
        "{e}"
    );
}

/// Regex indices follow the order the node-numbering walk finishes their
/// nodes (post-order), items the data walk (pre-order): in a chain, the last
/// test gets index 0 and the first test's item comes first, as in the iOS
/// profiles.
#[test]
fn regex_numbering_and_placement_follow_the_two_walks() {
    let src = r#"(version 1)
(deny default)
(allow file-read-data (require-any (regex #"^/x") (regex #"^/y")))
"#;
    let blob = compile(src, &Options::default()).unwrap();
    let p = Profile::decode(&blob).unwrap();
    assert_eq!(p.header.regex_count, 2);
    let table: Vec<u16> = (0..2)
        .map(|i| u16::from_le_bytes([blob[14 + 2 * i], blob[15 + 2 * i]]))
        .collect();
    let item = |s: &str| Regex::parse(s).unwrap().item().unwrap();
    assert_eq!(p.data_item(table[0]).unwrap(), item("^/y"));
    assert_eq!(p.data_item(table[1]).unwrap(), item("^/x"));
    assert!(table[1] < table[0], "{table:?}");
}
