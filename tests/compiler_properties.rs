//! Property tests of the compiler, with a small deterministic PRNG (no
//! dependency: splitmix64 is ten lines, and a failing case is reproduced by
//! its printed seed).
//!
//! 1. Random profiles built from the supported forms (regexes included, so
//!    the regex table is read back by the decoder's own AppleMatch engine)
//!    are written as SBPL
//!    text, compiled, decoded and evaluated by `sbcheck::decision` on random
//!    requests near the profile's literals; every verdict must equal a
//!    direct evaluation of the generated rules with macOS's precedence (the
//!    latest filtered rule that holds wins; else the unfiltered rule naming
//!    the operation most closely, the latest of those; `default` written
//!    anywhere), with Apple's implicit rules, done here, independently of the compiler
//!    (only the list of operations allowed under `(deny default)`, which the
//!    Apple blobs pin, is shared).
//!    The evaluator's rules are also read at the SBPL level
//!    (`sbpl::rules::decide`), so a failure says which stage is wrong.
//! 2. Random regexes: the compiled AppleMatch program, run by the VM, must
//!    match exactly the strings the parsed regex matches.

use sbcheck::blob::Profile;
use sbcheck::decision::{evaluate, Args, Verdict};
use sbcheck::sbpl::regex::{run_program, Regex};
use sbcheck::sbpl::rules::{self, ALLOWED_UNDER_DENY_DEFAULT};
use sbcheck::sbpl::{self, compile, Options, SearchPath};
use sbcheck::vocab::{OpId, Vocab};

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

// ------------------------------------------------------------------ model

const PATHS: &[&str] = &[
    "/tmp",
    "/tmp/foo",
    "/tmp/foo/bar",
    "/tmp/foobar",
    "/private/tmp/x",
    "/etc/hosts",
    "/usr/lib",
    "/",
];
const NAMES: &[&str] = &["com.apple.a", "com.apple.b", "com.apple.flow-divert"];
/// Regexes over the same paths and names.
const PATH_REGEXES: &[&str] = &[
    "^/tmp/[^/]+$",
    "foo",
    "^/(tmp|etc)/",
    "(bar|hosts)$",
    "^/private/tmp/?",
    "^/usr/li?b",
    "^/$",
    "/f.o(/|$)",
];
const NAME_REGEXES: &[&str] = &["^com\\.apple\\.[ab]$", "divert$", "^com\\."];
const OPS: &[&str] = &[
    "file-read*",
    "file-read-data",
    "file-read-metadata",
    "file-write*",
    "file-write-data",
    "file*",
    "file-write-setugid",
    "mach-lookup",
    "network-outbound",
    "network*",
    "signal",
    "mach-task-read",
    "process-exec",
    "process-exec*",
    "sysctl-read",
];
/// (SBPL form, filter id, value): the integer filters used.
const INTS: &[(&str, u8, u16)] = &[
    ("(socket-domain AF_INET)", 10, 2),
    ("(socket-domain AF_UNIX)", 10, 1),
    ("(vnode-type SYMLINK)", 28, 5),
    ("(vnode-type DIRECTORY)", 28, 2),
    ("(target self)", 13, 1),
    ("(target others)", 13, 3),
];
const GLOBAL_NAME: u8 = 5;
const CONTROL_NAME: u8 = 9;

#[derive(Debug, Clone)]
enum F {
    Literal(&'static str),
    Subpath(&'static str),
    Prefix(&'static str),
    GlobalName(&'static str),
    ControlName(&'static str),
    Regex(&'static str),
    GlobalNameRegex(&'static str),
    Int(usize),
    All(Vec<F>),
    Any(Vec<F>),
    Not(Box<F>),
}

#[derive(Debug, Clone)]
struct ModelRule {
    deny: bool,
    ops: Vec<&'static str>,
    /// Several filters: any of them.
    filters: Vec<F>,
    modifier: Option<&'static str>,
}

#[derive(Debug)]
struct ModelProfile {
    default_deny: bool,
    /// Where `(allow|deny default)` stands: before `rules[default_at]`.
    default_at: usize,
    rules: Vec<ModelRule>,
}

fn gen_filter(rng: &mut Rng, depth: usize) -> F {
    let leaf_only = depth >= 3;
    match rng.below(if leaf_only { 6 } else { 9 }) {
        0 => F::Literal(rng.pick(PATHS)),
        1 => F::Subpath(rng.pick(PATHS)),
        2 => F::Prefix(rng.pick(PATHS)),
        3 => F::GlobalName(rng.pick(NAMES)),
        4 => {
            if rng.chance(50) {
                F::ControlName(rng.pick(NAMES))
            } else {
                F::Int(rng.below(INTS.len()))
            }
        }
        5 => match rng.below(3) {
            0 => F::Regex(rng.pick(PATH_REGEXES)),
            1 => F::GlobalNameRegex(rng.pick(NAME_REGEXES)),
            _ => F::Int(rng.below(INTS.len())),
        },
        6 => F::All(
            (0..rng.below(3) + 1)
                .map(|_| gen_filter(rng, depth + 1))
                .collect(),
        ),
        7 => F::Any(
            (0..rng.below(3) + 1)
                .map(|_| gen_filter(rng, depth + 1))
                .collect(),
        ),
        _ => F::Not(Box::new(gen_filter(rng, depth + 1))),
    }
}

fn gen_profile(rng: &mut Rng) -> ModelProfile {
    let rules = (0..rng.below(8) + 1)
        .map(|_| ModelRule {
            deny: rng.chance(50),
            ops: (0..rng.below(2) + 1).map(|_| rng.pick(OPS)).collect(),
            filters: (0..[0, 1, 1, 1, 2][rng.below(5)])
                .map(|_| gen_filter(rng, 0))
                .collect(),
            modifier: if rng.chance(20) {
                Some(rng.pick(&[
                    "(with no-report)",
                    "(with report)",
                    "(with send-signal SIGKILL)",
                    "(with message \"denied\")",
                ]))
            } else {
                None
            },
        })
        .collect::<Vec<_>>();
    // Half the profiles put the default first, the others anywhere (last
    // included): its place must not matter.
    let default_at = if rng.chance(50) {
        0
    } else {
        rng.below(rules.len() + 1)
    };
    ModelProfile {
        default_deny: rng.chance(60),
        default_at,
        rules,
    }
}

fn sbpl_filter(f: &F) -> String {
    let join = |parts: &[F]| parts.iter().map(sbpl_filter).collect::<Vec<_>>().join(" ");
    match f {
        F::Literal(p) => format!("(literal {p:?})"),
        F::Subpath(p) => format!("(subpath {p:?})"),
        F::Prefix(p) => format!("(prefix {p:?})"),
        F::GlobalName(n) => format!("(global-name {n:?})"),
        F::ControlName(n) => format!("(control-name {n:?})"),
        F::Regex(r) => format!("(regex #\"{r}\")"),
        F::GlobalNameRegex(r) => format!("(global-name-regex #\"{r}\")"),
        F::Int(i) => INTS[*i].0.to_owned(),
        F::All(parts) => format!("(require-all {})", join(parts)),
        F::Any(parts) => format!("(require-any {})", join(parts)),
        F::Not(inner) => format!("(require-not {})", sbpl_filter(inner)),
    }
}

fn sbpl(p: &ModelProfile) -> String {
    let default = format!(
        "({} default)\n",
        if p.default_deny { "deny" } else { "allow" }
    );
    let mut out = String::from("(version 1)\n");
    for (i, r) in p.rules.iter().enumerate() {
        if i == p.default_at {
            out.push_str(&default);
        }
        let mut parts: Vec<String> = r.ops.iter().map(|s| (*s).to_owned()).collect();
        parts.extend(r.filters.iter().map(sbpl_filter));
        parts.extend(r.modifier.map(str::to_owned));
        let verb = if r.deny { "deny" } else { "allow" };
        out.push_str(&format!("({verb} {})\n", parts.join(" ")));
    }
    if p.default_at == p.rules.len() {
        out.push_str(&default);
    }
    out
}

/// One request: an operation's arguments, all given.
#[derive(Clone)]
struct Request {
    path: Vec<u8>,
    global_name: &'static str,
    control_name: &'static str,
    ints: [(u8, u16); 3],
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "path {:?}, global-name {:?}, control-name {:?}, ints {:?}",
            String::from_utf8_lossy(&self.path),
            self.global_name,
            self.control_name,
            self.ints
        )
    }
}

fn holds(f: &F, r: &Request) -> bool {
    let path = r.path.as_slice();
    match f {
        F::Literal(t) => path == t.as_bytes(),
        F::Prefix(t) => path.starts_with(t.as_bytes()),
        // `(subpath "/")` is every absolute path.
        F::Subpath("/") => path.starts_with(b"/"),
        F::Subpath(t) => path
            .strip_prefix(t.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'/'),
        F::GlobalName(n) => r.global_name == *n,
        F::ControlName(n) => r.control_name == *n,
        // The regex's meaning read from its parse, not from its program.
        F::Regex(re) => Regex::parse(re).unwrap().is_match(path),
        F::GlobalNameRegex(re) => Regex::parse(re).unwrap().is_match(r.global_name.as_bytes()),
        F::Int(i) => {
            let (_, filter, value) = INTS[*i];
            r.ints.contains(&(filter, value))
        }
        F::All(parts) => parts.iter().all(|p| holds(p, r)),
        F::Any(parts) => parts.iter().any(|p| holds(p, r)),
        F::Not(inner) => !holds(inner, r),
    }
}

/// Which operations each rule applies to (`covered[rule][op]`), and whether
/// any rule touches network-outbound: rule ops resolved once per profile.
struct Coverage {
    covered: Vec<Vec<bool>>,
    outbound_touched: bool,
}

impl Coverage {
    fn new(v: &Vocab, p: &ModelProfile) -> Coverage {
        let covered: Vec<Vec<bool>> = p
            .rules
            .iter()
            .map(|rule| {
                let mut ops = vec![false; v.op_table_len];
                for name in &rule.ops {
                    let name = if *name == "process-exec" {
                        "process-exec*"
                    } else {
                        name
                    };
                    // A rule on an operation covers it and every operation
                    // that inherits from it.
                    for op in v.expand(name).unwrap() {
                        ops[usize::from(op)] = true;
                    }
                }
                ops
            })
            .collect();
        let outbound = usize::from(v.op_id("network-outbound").unwrap());
        let outbound_touched = covered.iter().any(|ops| ops[outbound]);
        Coverage {
            covered,
            outbound_touched,
        }
    }
}

/// The direct SBPL-level decision with macOS's precedence: the latest rule
/// with a filter that holds wins; when none does, the unfiltered rule that
/// names the operation most closely (the operation, then its family, ...,
/// then `default`), the latest of equals. Apple's implicit rules (RULES.md
/// R3, R4) are the model's rules too: under `(deny default)` 54 operations
/// are allowed (their default is allow) and a process may inspect and
/// signal itself (filtered rules where the default stands); flow-divert
/// sockets may always go out once a rule touches network-outbound; four
/// operations nothing but their own name covers.
fn decide(v: &Vocab, p: &ModelProfile, c: &Coverage, op: OpId, r: &Request) -> Verdict {
    let verdict = |deny: bool| if deny { Verdict::Deny } else { Verdict::Allow };
    let name = v.op_name(op).unwrap();
    if name == "network-outbound" && r.control_name == "com.apple.flow-divert" && c.outbound_touched
    {
        return Verdict::Allow;
    }
    let inspect_self = [
        "mach-task-read",
        "mach-task-name",
        "mach-task-inspect",
        "signal",
    ];
    let self_rule_holds =
        p.default_deny && r.ints.contains(&(13, 1)) && inspect_self.contains(&name);
    // Filtered rules, latest first; the default's implicit (target self)
    // rules stand where the default does (before rules[default_at]).
    if p.default_at == p.rules.len() && self_rule_holds {
        return Verdict::Allow;
    }
    for (i, (rule, covered)) in p.rules.iter().zip(&c.covered).enumerate().rev() {
        if covered[usize::from(op)] && rule.filters.iter().any(|f| holds(f, r)) {
            return verdict(rule.deny);
        }
        if i == p.default_at && self_rule_holds {
            return Verdict::Allow;
        }
    }
    // How closely each unfiltered rule names the operation: its place in
    // the operation's lineage (0: the operation itself).
    let lineage: Vec<&str> = v.lineage(op).map(|a| v.op_name(a).unwrap()).collect();
    let closeness = |rule: &ModelRule| {
        lineage.iter().position(|a| {
            rule.ops
                .iter()
                .any(|n| n == a || (*n == "process-exec" && *a == "process-exec*"))
        })
    };
    let mut best: Option<(usize, usize, bool)> = None; // (closeness, place, deny)
    let mut consider = |close: usize, place: usize, deny: bool| {
        let better = match best {
            None => true,
            Some((c, pl, _)) => close < c || (close == c && place >= pl),
        };
        if better {
            best = Some((close, place, deny));
        }
    };
    for (i, (rule, covered)) in p.rules.iter().zip(&c.covered).enumerate() {
        if covered[usize::from(op)] && rule.filters.is_empty() {
            // Places: the default sits between rules[default_at - 1] and
            // rules[default_at], so rules are at 2i + 1, the default at 2k.
            consider(closeness(rule).unwrap(), 2 * i + 1, rule.deny);
        }
    }
    let named_only = [
        "file-write-setugid",
        "job-creation",
        "system-kas-info",
        "storage-class-map",
    ];
    if !named_only.contains(&name) {
        let deny = p.default_deny && !ALLOWED_UNDER_DENY_DEFAULT.contains(&name);
        consider(lineage.len() - 1, 2 * p.default_at, deny);
    }
    best.map_or(Verdict::Deny, |(_, _, deny)| verdict(deny))
}

/// Paths near the profile's literals: each literal, below it, beside it,
/// above it, one byte off.
fn nearby_paths(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for p in PATHS {
        let p = p.as_bytes();
        out.push(p.to_vec());
        out.push([p, b"/x"].concat());
        out.push([p, b"x"].concat());
        out.push([p, b"/"].concat());
        if let Some(cut) = p.iter().rposition(|&c| c == b'/') {
            out.push(p[..cut.max(1)].to_vec());
        }
        let mut off = p.to_vec();
        if let Some(last) = off.last_mut() {
            *last = last.wrapping_add(1 + rng.below(3) as u8);
        }
        out.push(off);
    }
    out.push(b"relative/path".to_vec());
    out
}

fn random_request(rng: &mut Rng, paths: &[Vec<u8>]) -> Request {
    Request {
        path: paths[rng.below(paths.len())].clone(),
        global_name: rng.pick(NAMES),
        control_name: rng.pick(NAMES),
        ints: [
            (10, rng.pick(&[1, 2, 30])),
            (28, rng.pick(&[1, 2, 5])),
            (13, rng.pick(&[1, 3, 4])),
        ],
    }
}

#[test]
fn compiled_profiles_decide_like_their_rules() {
    let v = Vocab::macos_14();
    let ops: Vec<OpId> = OPS
        .iter()
        .map(|n| {
            if *n == "process-exec" {
                "process-exec*"
            } else {
                n
            }
        })
        .chain(["mach-task-name", "file-link", "iokit-open-user-client"])
        .map(|n| v.op_id(n).unwrap())
        .collect();
    let mut checked = 0usize;
    for seed in 0..400u64 {
        let mut rng = Rng(seed);
        let model = gen_profile(&mut rng);
        let src = sbpl(&model);
        let blob = compile(&src, &Options::default())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
        let profile = Profile::decode(&blob).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
        let evaluated =
            sbpl::evaluate(&src, None, &Options::default(), &SearchPath::default()).unwrap();
        let coverage = Coverage::new(v, &model);
        let paths = nearby_paths(&mut rng);
        for _ in 0..40 {
            let r = random_request(&mut rng, &paths);
            let strings: [(u8, &[u8]); 2] = [
                (GLOBAL_NAME, r.global_name.as_bytes()),
                (CONTROL_NAME, r.control_name.as_bytes()),
            ];
            let args = Args {
                path: Some(&r.path),
                ints: &r.ints,
                strings: &strings,
            };
            let request = rules::Request {
                path: Some(&r.path),
                strings: strings.to_vec(),
                ints: r.ints.to_vec(),
            };
            for &op in &ops {
                let expected = decide(v, &model, &coverage, op, &r);
                // The evaluator's rules, read at the SBPL level: tells an
                // evaluator bug from a layout bug.
                let sbpl_level = if rules::decide(&evaluated, op, &request).is_deny() {
                    Verdict::Deny
                } else {
                    Verdict::Allow
                };
                assert_eq!(
                    sbpl_level,
                    expected,
                    "seed {seed}: evaluated rules, {} on {r:?}\n{src}",
                    v.op_name(op).unwrap()
                );
                let decision = evaluate(&profile, op, &args);
                assert_eq!(
                    decision.verdict(),
                    Some(expected),
                    "seed {seed}: {} on {r:?}\ndecision {decision:?}\n{src}",
                    v.op_name(op).unwrap()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}

// ------------------------------------------------------------------ regex

/// A random regex over a small alphabet, as SBPL source text.
fn gen_regex(rng: &mut Rng, depth: usize) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(4) + 1 {
        let atom = match rng.below(if depth >= 2 { 7 } else { 9 }) {
            0..=2 => rng.pick(&["a", "b", "/", "\\."]).to_owned(),
            3 => ".".to_owned(),
            4 => (rng.pick(&["[ab]", "[^/]", "[a-c]", "[\\-/]"])).to_owned(),
            5 | 6 => rng.pick(&["a", "b"]).to_owned(),
            7 => format!("({})", gen_regex(rng, depth + 1)),
            _ => {
                let alts: Vec<String> = (0..rng.below(3) + 2)
                    .map(|_| {
                        if rng.chance(15) {
                            String::new()
                        } else {
                            gen_regex(rng, depth + 1)
                        }
                    })
                    .collect();
                format!("({})", alts.join("|"))
            }
        };
        out.push_str(&atom);
        if rng.chance(35) {
            out.push(rng.pick(&['*', '+', '?']));
        }
    }
    out
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(9)).map(|_| rng.pick(b"ab/.c")).collect()
}

#[test]
fn regex_programs_match_like_their_regex() {
    let mut checked = 0usize;
    for seed in 0..1500u64 {
        let mut rng = Rng(seed);
        let mut src = gen_regex(&mut rng, 0);
        if rng.chance(50) {
            src.insert(0, '^');
        }
        if rng.chance(40) {
            src.push('$');
        }
        let regex = Regex::parse(&src).unwrap_or_else(|e| panic!("seed {seed}: {src}: {e}"));
        let code = regex.program().unwrap();
        for _ in 0..30 {
            let input = random_input(&mut rng);
            assert_eq!(
                run_program(&code, &input),
                Ok(regex.is_match(&input)),
                "seed {seed}: #\"{src}\" on {:?}",
                String::from_utf8_lossy(&input)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 45_000);
}
