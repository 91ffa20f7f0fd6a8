//! Decoder benchmark on the iOS 17 platform profile (139,529 bytes, 9,957
//! nodes, 517 pattern items): decoding plus building everything evaluation
//! needs; single decisions; rendering every bucket as SBPL rules. Prints
//! medians.
//!
//! `cargo bench --bench decode` (a release build; no harness, no deps).

use sbcheck::blob::render::{self, Rendering, Texts};
use sbcheck::blob::{FilterArg, Profile};
use sbcheck::eval::{evaluate_with, Args, Undetermined};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time of one call, from `rounds` timings of `batch` calls each.
pub fn time_per_call(rounds: usize, batch: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..batch {
                    f();
                }
                start.elapsed() / batch as u32
            })
            .collect(),
    )
}

/// One decision to time: an operation and arguments complete enough that
/// the walk reaches a terminal.
pub struct Case {
    pub what: &'static str,
    pub op: u16,
    pub path: Option<&'static [u8]>,
    pub ints: Vec<(u8, u16)>,
    pub strings: Vec<(u8, Vec<u8>)>,
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
        given: &[(&str, &str)],
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
                Err(_) => case.strings.push((f, value.as_bytes().to_vec())),
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
                        _ => case.strings.push((filter, Vec::new())),
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

    pub fn run(&self, p: &Profile) -> Result<usize, Undetermined> {
        let strings: Vec<(u8, &[u8])> = self
            .strings
            .iter()
            .map(|(f, s)| (*f, s.as_slice()))
            .collect();
        let args = Args {
            path: self.path,
            ints: &self.ints,
            strings: &strings,
        };
        let d = evaluate_with(p, self.op, &args, VARS);
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
    for (_, rules) in &r.blocks {
        for rule in rules {
            n += Rendering::rule_text(&mut texts, "", rule).len();
        }
    }
    n
}

fn main() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/apple/ios-17/platform_profile.bin");
    let bytes = std::fs::read(&path).expect("iOS 17 platform profile");
    let decode = time_per_call(200, 5, || {
        std::hint::black_box(Profile::decode(std::hint::black_box(&bytes)).ok());
    });
    println!(
        "decode + evaluation index, iOS 17 platform profile ({} bytes): median {:.3} ms",
        bytes.len(),
        decode.as_secs_f64() * 1e3
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
        let strings: Vec<(u8, &[u8])> = case
            .strings
            .iter()
            .map(|(f, s)| (*f, s.as_slice()))
            .collect();
        let args = Args {
            path: case.path,
            ints: &case.ints,
            strings: &strings,
        };
        let t = time_per_call(101, 2000, || {
            std::hint::black_box(evaluate_with(
                &p,
                case.op,
                std::hint::black_box(&args),
                VARS,
            ));
        });
        println!("  {}: median {:.0} ns", case.what, t.as_secs_f64() * 1e9);
        medians.push(t);
    }
    println!(
        "decision, median over the cases: {:.0} ns",
        median(medians).as_secs_f64() * 1e9
    );

    let rendering = time_per_call(21, 1, || {
        std::hint::black_box(render_all(&p));
    });
    println!(
        "render every bucket as SBPL rules: median {:.1} ms",
        rendering.as_secs_f64() * 1e3
    );
}
