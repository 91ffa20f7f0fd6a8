//! Decoder benchmark on the iOS 17 platform profile (139,529 bytes, 9,957
//! nodes, 517 pattern items): decoding plus building everything evaluation
//! needs; single decisions; rendering every bucket as SBPL rules. Prints
//! medians.
//!
//! `cargo bench --bench decode` (a release build; no harness, no deps).

use sbcheck::blob::render::{self, Rendering, Texts};
use sbcheck::blob::{FilterArg, Profile};
use sbcheck::decision::{evaluate_with, Args, Undetermined};
use std::path::Path;

// The suite's medians, so both benches summarise alike (its table is unused
// here). Public: the suite takes its copy from here (a file loaded twice is
// clippy::duplicate_mod).
#[path = "suite/summary.rs"]
#[allow(dead_code)]
pub mod summary;
use summary::Summary;

/// One decision to time: an operation and arguments complete enough that
/// the walk reaches a terminal.
pub struct Case {
    pub what: &'static str,
    pub op: u16,
    path: Option<&'static [u8]>,
    ints: Vec<(u8, u16)>,
    strings: Vec<(u8, &'static [u8])>,
}

pub const VARS: &[(&str, &[u8])] = &[
    ("HOME", b"/private/var/mobile"),
    ("FRONT_USER_HOME", b"/private/var/mobile"),
    ("ANY_USER_HOME", b"/private/var/mobile"),
];

impl Case {
    /// `given` names filters and values (`vnode-type=1`, `global-name=x`).
    pub fn new(
        p: &Profile,
        what: &'static str,
        op: &str,
        path: Option<&'static [u8]>,
        given: &[(&str, &'static str)],
    ) -> Case {
        let mut case = Case {
            what,
            op: p.vocab.op_id(op).expect("operation"),
            path,
            ints: Vec::new(),
            strings: Vec::new(),
        };
        for (name, value) in given {
            let f = p.vocab.filter_id(name).expect("filter");
            match value.parse() {
                Ok(n) => case.ints.push((f, n)),
                Err(_) => case.strings.push((f, value.as_bytes())),
            }
        }
        // Give every filter the walk asks for a neutral value (integer 0,
        // empty string) until the decision is made.
        loop {
            let d = case.run(p);
            match d {
                Err(Undetermined::MissingArgument { node, filter }) => {
                    match p.args[usize::from(node)] {
                        FilterArg::Int(_) | FilterArg::Bitmap(_) => case.ints.push((filter, 0)),
                        _ => case.strings.push((filter, b"")),
                    }
                }
                Err(why) => panic!("{what}: {}", why.describe(p)),
                Ok(steps) => {
                    println!("  {what}: {steps} nodes walked");
                    return case;
                }
            }
        }
    }

    /// The arguments the decision is made on.
    pub fn args(&self) -> Args<'_> {
        Args {
            path: self.path,
            ints: &self.ints,
            strings: &self.strings,
        }
    }

    /// The decision's nodes walked, or why it was not made.
    fn run(&self, p: &Profile) -> Result<usize, Undetermined> {
        let d = evaluate_with(p, self.op, &self.args(), VARS);
        d.outcome.map(|_| d.steps.len())
    }
}

/// Renders every bucket and block of `p` as SBPL rule text (bench item 4);
/// returns the text's length so the work is not optimised out.
pub fn render_all(p: &Profile) -> usize {
    let r = render::rules(p);
    let mut texts = Texts::new(p);
    let mut n = 0usize;
    for b in &r.buckets {
        for rule in &b.rules {
            n += Rendering::rule_text(&mut texts, "op", rule).len();
        }
    }
    for (_, _, rules) in &r.blocks {
        for rule in rules {
            n += Rendering::rule_text(&mut texts, "", rule).len();
        }
    }
    n
}

/// `eval --batch` throughput: the bench cases as JSON-lines queries (each
/// with every argument its walk needs), 100,000 lines answered from memory
/// into a sink on this one thread: parsing, deciding, writing JSON.
fn batch_throughput(p: &Profile, cases: &[Case]) {
    use sbcheck::batch::Batch;
    let v = p.vocab;
    let line = |c: &Case| -> String {
        let mut args = serde_json::Map::new();
        for &(f, n) in &c.ints {
            args.insert(v.filter_label(f), n.into());
        }
        for &(f, s) in &c.strings {
            args.insert(v.filter_label(f), String::from_utf8_lossy(s).into());
        }
        let vars: serde_json::Map<String, serde_json::Value> = VARS
            .iter()
            .map(|(k, x)| ((*k).to_owned(), String::from_utf8_lossy(x).into()))
            .collect();
        let mut q =
            serde_json::json!({ "operation": v.op_label(c.op), "args": args, "vars": vars });
        if let Some(path) = c.path {
            q["path"] = String::from_utf8_lossy(path).into();
        }
        q.to_string()
    };
    let lines: Vec<String> = cases.iter().map(line).collect();
    let n = 100_000;
    let mut input = String::new();
    for k in 0..n {
        input.push_str(&lines[k % lines.len()]);
        input.push('\n');
    }
    for explain in [false, true] {
        let batch = Batch::new(p, explain);
        let mut cpu = Vec::new();
        let t = Summary::per_call(7, 1, || {
            let start = thread_cpu_ns();
            let stats = batch
                .run(std::hint::black_box(input.as_bytes()), std::io::sink())
                .expect("in memory");
            cpu.push(thread_cpu_ns() - start);
            assert_eq!(stats.errors, 0);
        });
        let cpu = Summary::of(cpu.into_iter().map(|c| c as f64).collect()).median;
        println!(
            "eval --batch{}: {n} iOS 17 queries, median wall {:.1} ms = {:.0} queries/s; \
             this thread's CPU time {:.1} ms = {:.0} queries/s per core",
            if explain { " --explain" } else { "" },
            t.median / 1e6,
            n as f64 / (t.median / 1e9),
            cpu / 1e6,
            n as f64 / (cpu / 1e9)
        );
    }
}

/// CPU time of the calling thread: on a shared machine the wall time
/// counts the time other processes held the core.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec the call writes; the clock id is a
    // constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/apple/ios-17/platform_profile.bin");
    let bytes = std::fs::read(&path).expect("iOS 17 platform profile");
    let decode = Summary::per_call(200, 5, || {
        std::hint::black_box(Profile::decode(std::hint::black_box(&bytes)).ok());
    });
    println!(
        "decode + evaluation index, iOS 17 platform profile ({} bytes): median {:.3} ms",
        bytes.len(),
        decode.median / 1e6
    );

    let p = Profile::decode(&bytes).expect("decodes");
    println!("decisions:");
    let file = [("vnode-type", "1")];
    let cases = [
        Case::new(&p, "default", "default", None, &[]),
        Case::new(
            &p,
            "syscall-unix 205",
            "syscall-unix",
            None,
            &[("syscall-number", "205")],
        ),
        Case::new(
            &p,
            "file-read-data /usr/lib/libSystem.B.dylib",
            "file-read-data",
            Some(b"/usr/lib/libSystem.B.dylib"),
            &file,
        ),
        Case::new(
            &p,
            "file-write-data ~/Library/Preferences/x.plist",
            "file-write-data",
            Some(b"/private/var/mobile/Library/Preferences/x.plist"),
            &file,
        ),
        Case::new(
            &p,
            "storage-class-map ~/Library/Mail/x",
            "storage-class-map",
            Some(b"/private/var/mobile/Library/Mail/x"),
            &[],
        ),
        Case::new(
            &p,
            "mach-lookup com.apple.cfprefsd.daemon",
            "mach-lookup",
            None,
            &[("global-name", "com.apple.cfprefsd.daemon")],
        ),
        Case::new(
            &p,
            "network-outbound AF_INET/SOCK_STREAM/TCP",
            "network-outbound",
            None,
            &[
                ("socket-domain", "2"),
                ("socket-type", "1"),
                ("socket-protocol", "6"),
            ],
        ),
    ];
    let mut medians = Vec::new();
    for case in &cases {
        let args = case.args();
        let t = Summary::per_call(101, 2000, || {
            std::hint::black_box(evaluate_with(
                &p,
                case.op,
                std::hint::black_box(&args),
                VARS,
            ));
        });
        println!("  {}: median {:.0} ns", case.what, t.median);
        medians.push(t.median);
    }
    println!(
        "decision, median over the cases: {:.0} ns",
        Summary::of(medians).median
    );

    batch_throughput(&p, &cases);

    let rendering = Summary::per_call(21, 1, || {
        std::hint::black_box(render_all(&p));
    });
    println!(
        "render every bucket as SBPL rules: median {:.1} ms",
        rendering.median / 1e6
    );
}
