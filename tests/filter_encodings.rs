//! Every filter encoding learnt from Apple's blobs. For each filter the
//! iOS 17 and iOS 26 platform profiles use, nodes are taken from the blob,
//! rendered as SBPL by the decoder, compiled alone by our compiler, and the
//! compiled node must carry the same filter byte and the same argument: the
//! same integer, the same data-item bytes (pattern or NUL-terminated
//! string), or a regex that decides like Apple's on the strings around it.
//! The same for every distinct terminal: its `(with ...)` modifiers compile
//! to Apple's action word and inline modifier.

use sbcheck::blob::render::Texts;
use sbcheck::blob::{FilterArg, Node, Profile};
use sbcheck::sbpl::{compile, Options};
use std::collections::BTreeMap;
use std::path::Path;

/// Nodes checked per (filter, variant), so a filter used thousands of
/// times costs no more than one used twice.
const PER_FILTER: usize = 12;

fn blob(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/apple")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first filter node of `op` in a profile compiled from `rule`.
fn compiled_node(rule: &str) -> (Profile, u16) {
    let src = format!("(version 1)\n(allow default)\n(deny file-read-data {rule})\n");
    let bytes = compile(&src, &Options::default())
        .unwrap_or_else(|e| panic!("compiling the decoder's {rule}: {e}"));
    let p = Profile::decode(&bytes).unwrap();
    let op = p.vocab.op_id("file-read-data").unwrap();
    let head = p.op_table[op as usize];
    (p, head)
}

/// What a node's argument is, comparable across two blobs.
#[derive(Debug, PartialEq, Eq)]
enum Arg {
    Int(u16),
    Item(Vec<u8>),
    Regex,
    Other,
}

fn arg_of(p: &Profile, node: u16) -> Arg {
    let Node::Filter { arg, .. } = p.nodes[usize::from(node)] else {
        return Arg::Other;
    };
    match p.args[usize::from(node)] {
        FilterArg::Int(v) => Arg::Int(v),
        FilterArg::Pattern(_) | FilterArg::Str(_) => Arg::Item(p.data_item(arg).unwrap().to_vec()),
        FilterArg::Regex(_) => Arg::Regex,
        FilterArg::Bitmap(_) => {
            let at = p.data_base + 8 * usize::from(arg);
            let n = usize::from(u16::from_le_bytes([p.bytes[at + 2], p.bytes[at + 3]]));
            Arg::Item(p.bytes[at..at + 4 + n].to_vec())
        }
        _ => Arg::Other,
    }
}

/// Strings near a regex's text: its literal characters, cut and extended.
fn probes(text: &str) -> Vec<Vec<u8>> {
    let plain: String = text
        .chars()
        .filter(|c| !"^$()[]*+?\\|".contains(*c))
        .collect();
    let mut out = vec![plain.clone().into_bytes(), Vec::new()];
    for cut in 1..plain.len().min(40) {
        if plain.is_char_boundary(cut) {
            out.push(plain.as_bytes()[..cut].to_vec());
        }
    }
    out.push(format!("{plain}/x").into_bytes());
    out.push(format!("x{plain}").into_bytes());
    out
}

/// The decoder prints a mask node as `(F (bitmap 0-204 206-555))`; SBPL
/// writes the values: `(F 0 1 ... 204 206 ... 555)`.
fn sbpl_mask(form: &str) -> String {
    let Some((head, rest)) = form.split_once(" (bitmap ") else {
        return form.to_owned();
    };
    let mut values = Vec::new();
    for range in rest.trim_end_matches(')').split_whitespace() {
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        let (lo, hi): (u32, u32) = (lo.parse().unwrap(), hi.parse().unwrap());
        values.extend((lo..=hi).map(|v| v.to_string()));
    }
    format!("{head} {})", values.join(" "))
}

fn check_blob(rel: &str) -> BTreeMap<String, usize> {
    let bytes = blob(rel);
    let apple = Profile::decode(&bytes).unwrap();
    let mut texts = Texts::new(&apple);
    let mut seen: BTreeMap<(u8, bool), usize> = BTreeMap::new();
    let mut checked: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..apple.nodes.len() as u16 {
        let Node::Filter { filter, alt, .. } = apple.nodes[usize::from(i)] else {
            continue;
        };
        let count = seen.entry((filter, alt)).or_default();
        if *count >= PER_FILTER {
            continue;
        }
        let forms = texts.filter_forms(i);
        // One form per node (a trie of several literals is checked by the
        // decoder's round-trip tests), and no global variable: this checks
        // the argument's encoding, not variable binding.
        let [form] = forms.as_slice() else { continue };
        if form.contains("${") || matches!(apple.args[usize::from(i)], FilterArg::Unknown(_)) {
            continue;
        }
        // A pattern program with classes or searches renders as a regex;
        // Apple's compiler wrote it as pattern bytecode, ours writes a regex
        // SBPL text into the regex table: a layout choice of the compiler,
        // not the filter's encoding.
        if !alt && form.contains("(regex #") {
            continue;
        }
        *count += 1;
        let form = &sbpl_mask(form);
        let (ours, node) = compiled_node(form);
        let Node::Filter {
            filter: f2,
            alt: alt2,
            ..
        } = ours.nodes[usize::from(node)]
        else {
            panic!("{rel}: {form} compiled to no filter node");
        };
        assert_eq!((f2, alt2), (filter, alt), "{rel} node {i}: {form}");
        match (arg_of(&apple, i), arg_of(&ours, node)) {
            (Arg::Regex, Arg::Regex) => {
                let (FilterArg::Regex(a), FilterArg::Regex(b)) =
                    (apple.args[usize::from(i)], ours.args[usize::from(node)])
                else {
                    unreachable!()
                };
                let ra = &apple.regexes[usize::from(a)].regex;
                let rb = &ours.regexes[usize::from(b)].regex;
                for s in probes(&ra.render()) {
                    assert_eq!(
                        ra.matches(&s),
                        rb.matches(&s),
                        "{rel} node {i}: {form} on {:?}",
                        String::from_utf8_lossy(&s)
                    );
                }
            }
            (a, b) => assert_eq!(a, b, "{rel} node {i}: {form}"),
        }
        let name = apple.vocab.filter_label(filter);
        *checked
            .entry(format!("{name}{}", if alt { " (regex/mask)" } else { "" }))
            .or_default() += 1;
    }
    eprintln!(
        "{rel}: {} filters/variants, {} nodes agree with Apple's encoding",
        checked.len(),
        checked.values().sum::<usize>()
    );
    checked
}

#[test]
fn ios_17_filters_compile_to_apples_encoding() {
    let checked = check_blob("ios-17/platform_profile.bin");
    // The filters the blob pins, each checked at least once.
    for name in [
        "signing-identifier",
        "iokit-registry-entry-class",
        "global-name",
        "extension-class",
        "preference-domain",
        "process-attribute",
        "%entitlement-is-bool-true",
        "%entitlement-is-present",
        "require-ancestor-with-entitlement",
        "storage-class",
        "storage-class-extension",
        "privilege-id",
        "file-attribute",
        "system-attribute",
        "vnode-type",
        "xpc-service-name",
        "fsctl-command",
        "syscall-number (regex/mask)",
        "mac-policy-name",
        "mac-syscall-number",
        "host-special-port",
        "reboot-flags",
        "filesystem-name",
        "ipc-posix-name",
        "device-conforms-to",
        "extension",
        "persona-type",
        "ancestor-signing-identifier",
        "%entitlement-boolean",
        "%entitlement-load",
        "%entitlement-string",
        "process-path",
        "path",
    ] {
        assert!(
            checked
                .keys()
                .any(|k| k == name || k.split(' ').next() == Some(name)),
            "{name} not checked; checked: {checked:?}"
        );
    }
}

#[test]
fn ios_26_filters_compile_to_apples_encoding() {
    let checked = check_blob("ios-26/platform_profile.bin");
    for name in [
        "nvram-variable",
        "sysctl-name",
        "target",
        "system-attribute",
        "mount-relative-path",
        "filesystem-name",
    ] {
        assert!(
            checked
                .keys()
                .any(|k| k == name || k.split(' ').next() == Some(name)),
            "{name} not checked; checked: {checked:?}"
        );
    }
}

/// Every distinct terminal of the iOS 17 and iOS 26 profiles, rendered by
/// the decoder (`allow (with default-sandbox "container")`), compiled as a
/// rule, gives Apple's action word and modifier (id and string).
#[test]
fn terminals_compile_to_apples_action_words() {
    use sbcheck::blob::render::action_text;
    let mut checked = 0;
    for rel in ["ios-17/platform_profile.bin", "ios-26/platform_profile.bin"] {
        let bytes = blob(rel);
        let apple = Profile::decode(&bytes).unwrap();
        let mut seen = std::collections::HashSet::new();
        for node in &apple.nodes {
            let Node::Terminal(action) = node else {
                continue;
            };
            let text = action_text(&apple, action);
            if !seen.insert(text.clone()) {
                continue;
            }
            let (verb, withs) = text.split_once(' ').unwrap_or((&text, ""));
            let rule = format!("(literal \"/probe\") {withs}");
            // The other default, so the rule is not folded into it.
            let default = if verb == "allow" { "deny" } else { "allow" };
            let src = format!("(version 1)\n({default} default)\n({verb} file-read-data {rule})\n");
            let ours =
                Profile::decode(&compile(&src, &Options::default()).unwrap_or_else(|e| {
                    panic!("{rel}: compiling the decoder's terminal {text}: {e}")
                }))
                .unwrap();
            let op = ours.vocab.op_id("file-read-data").unwrap();
            let Node::Filter { matched, .. } = ours.nodes[usize::from(ours.op_table[op as usize])]
            else {
                panic!("{src}")
            };
            let Node::Terminal(got) = ours.nodes[usize::from(matched)] else {
                panic!("{src}")
            };
            assert_eq!(got.word, action.word, "{rel}: {text}");
            assert_eq!(
                got.modifier.map(|m| (m.id, ours.modifier_string(&m))),
                action.modifier.map(|m| (m.id, apple.modifier_string(&m))),
                "{rel}: {text}"
            );
            checked += 1;
        }
    }
    eprintln!("{checked} distinct terminals agree with Apple's");
    assert!(checked >= 100, "only {checked} terminals checked");
}
