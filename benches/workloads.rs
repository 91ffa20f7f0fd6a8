//! `sbcheck exec` on real workloads: `cargo bench --bench workloads`.
//!
//! Six workloads (issue 18) under the profile, with its `/tmp/w`
//! replaced by a fresh directory of this run:
//!
//! - `opens`: 20,000 open+close of an allowed file (this binary, re-run
//!   as the workload);
//! - `find`: `find /usr -type f | wc -l`;
//! - `tar`: `tar cf allowed/x.tar -C /usr/share/doc .`;
//! - `python`: `python3 -c "import json, email, http.client, asyncio,
//!   decimal, xml.etree.ElementTree"` (no bytecode written);
//! - `gcc`: `gcc -O2` of a small file;
//! - `forkexec`: 200 fork+exec of /bin/true from a shell loop;
//!
//! each bare, under `sbcheck exec --cpus 0` (sbcheck, supervisor and
//! workload pinned to one CPU), unpinned, with `--kernel`, under a launcher that
//! applies the same allow set with Landlock and nothing else (the Landlock
//! floor), and under the notify floor, pinned and unpinned as sbcheck is:
//! sbcheck's filter for the profile with a supervisor doing the least an
//! exact one can (opens injected as written, every other call CONTINUE
//! unjudged: `sbcheck::apply::linux::floor`), the floor under sbcheck.
//! Rounds are interleaved (every mode of every workload once per round,
//! each round starting at the next mode);
//! a first untimed round warms the page cache. The table gives the median time and the median of each round's ratio
//! to that round's bare run. Then `parallel`: two compilers at once under
//! sbcheck unpinned and pinned to one CPU (how much sooner the default
//! finishes: parallel work must stay parallel).
//!
//! Bounded time: `SBCHECK_WORKLOADS=opens,find,...` picks workloads,
//! `SBCHECK_ROUNDS=N` the rounds (default 5). `SBCHECK_BASELINE=PATH`
//! adds another build's `sbcheck` binary, pinned and unpinned, to the
//! same interleaved rounds (a change measured against its parent on this
//! noisy machine: figures move 10-15% between runs, less within one). What the machine lacks
//! (python3, gcc, /usr/share/doc, Landlock, a second CPU) is skipped with
//! the reason. The output ends with a Markdown table ready for
//! docs/performance.md.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(bench::OPENS_CHILD) {
        bench::opens_child(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some(bench::NOTIFY_FLOOR) {
        bench::notify_floor(&args[2..]);
    }
    bench::main();
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn main() {
    eprintln!("skipped: the workload benchmark needs Linux on x86_64");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod bench {
    use sbcheck::apply::linux::{floor, landlock};
    use sbcheck::blob::Profile;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    pub const OPENS_CHILD: &str = "--opens-child";
    /// `--notify-floor pinned|unpinned PROFILE CMD...`: runs CMD under the
    /// notify floor.
    pub const NOTIFY_FLOOR: &str = "--notify-floor";
    const SBCHECK: &str = env!("CARGO_BIN_EXE_sbcheck");
    const OPENS: usize = 20_000;

    /// The workload of `opens`: `N` open+close of `PATH`.
    pub fn opens_child(args: &[String]) {
        let n: usize = args[0].parse().expect("count");
        for _ in 0..n {
            drop(std::fs::File::open(&args[1]).expect("open"));
        }
    }

    /// The notify floor's launcher: sbcheck's filter for PROFILE and the
    /// floor's supervisor, everything pinned to CPU 0 as `--cpus 0` pins,
    /// or unpinned with idle CPUs polling where this user may ask it, as
    /// `sbcheck exec` asks.
    pub fn notify_floor(args: &[String]) -> ! {
        let text = std::fs::read_to_string(&args[1]).expect("the profile");
        let blob = sbcheck::sbpl::compile(&text, &Default::default()).expect("it compiles");
        let profile = Profile::decode(&blob).expect("it decodes");
        let _idle = if args[0] == "pinned" {
            sbcheck::apply::sys::pin_to_cpus(&[0]).expect("CPU 0");
            None
        } else {
            sbcheck::apply::linux::cpu::IdlePoll::hold().ok()
        };
        floor::exec(&sbcheck::apply::linux::filter_for(&profile), &args[2..])
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Bare,
        Pinned,
        Unpinned,
        Kernel,
        Floor,
        NotifyFloorPinned,
        NotifyFloorUnpinned,
        /// `SBCHECK_BASELINE`'s binary.
        BaselinePinned,
        BaselineUnpinned,
    }

    const MODES: [Mode; 7] = [
        Mode::Bare,
        Mode::Pinned,
        Mode::Unpinned,
        Mode::Kernel,
        Mode::Floor,
        Mode::NotifyFloorPinned,
        Mode::NotifyFloorUnpinned,
    ];

    impl Mode {
        fn label(self) -> &'static str {
            match self {
                Mode::Bare => "bare",
                Mode::Pinned => "sbcheck pinned",
                Mode::Unpinned => "sbcheck unpinned",
                Mode::Kernel => "sbcheck --kernel",
                Mode::Floor => "Landlock floor",
                Mode::NotifyFloorPinned => "notify floor pinned",
                Mode::NotifyFloorUnpinned => "notify floor unpinned",
                Mode::BaselinePinned => "baseline pinned",
                Mode::BaselineUnpinned => "baseline unpinned",
            }
        }
    }

    /// `SBCHECK_BASELINE`: another build's sbcheck binary to compare with.
    fn baseline() -> Option<PathBuf> {
        std::env::var_os("SBCHECK_BASELINE").map(PathBuf::from)
    }

    struct Workload {
        name: &'static str,
        shown: String,
        argv: Vec<String>,
    }

    struct Setup {
        dir: PathBuf,
        profile: PathBuf,
        /// The floor's ruleset, or why there is none.
        ruleset: Result<Arc<OwnedFd>, String>,
    }

    fn which(name: &str) -> Option<PathBuf> {
        ["/usr/bin", "/bin", "/usr/local/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
    }

    fn setup() -> Setup {
        let base = std::env::temp_dir().join(format!("sbcheck-workloads-{}", std::process::id()));
        std::fs::create_dir_all(base.join("allowed")).expect("bench directory");
        let dir = std::fs::canonicalize(&base).expect("bench directory");
        std::fs::write(dir.join("in.txt"), "x\n").unwrap();
        std::fs::write(
            dir.join("allowed/hello.c"),
            "#include <stdio.h>\nstatic int f(int n){return n<2?n:f(n-1)+f(n-2);}\n\
             int main(void){printf(\"%d\\n\", f(20));return 0;}\n",
        )
        .unwrap();
        for i in 0..2 {
            std::fs::copy(
                dir.join("allowed/hello.c"),
                dir.join(format!("allowed/hello{i}.c")),
            )
            .unwrap();
        }
        let w = dir.display();
        let text = format!(
            "(version 1) (deny default) (allow process-exec* process-fork)\n\
             (allow file-read* (subpath \"/usr\") (subpath \"/lib\") (subpath \"/lib64\") \
             (subpath \"/bin\")\n       (subpath \"/etc\") (subpath \"/proc\") (subpath \"/dev\") \
             (subpath \"{w}\"))\n\
             (allow file-read-metadata)\n\
             (allow file-write* (subpath \"{w}/allowed\") (literal \"/dev/null\"))\n"
        );
        let profile = dir.join("issue18.sb");
        std::fs::write(&profile, &text).unwrap();
        let ruleset = floor_ruleset(&text);
        Setup {
            dir,
            profile,
            ruleset,
        }
    }

    fn floor_ruleset(text: &str) -> Result<Arc<OwnedFd>, String> {
        match landlock::abi() {
            Ok(v) if v >= landlock::MIN_ABI => {}
            Ok(v) => return Err(format!("Landlock ABI {v} < {}", landlock::MIN_ABI)),
            Err(e) => {
                return Err(format!(
                    "no Landlock ({})",
                    std::io::Error::from_raw_os_error(e)
                ))
            }
        }
        let blob = sbcheck::sbpl::compile(text, &Default::default()).map_err(|e| e.to_string())?;
        let profile = Profile::decode(&blob).map_err(|e| e.to_string())?;
        let plan = landlock::plan(&profile).map_err(|r| r.0)?;
        let fd = landlock::ruleset(&plan).map_err(|(what, e)| format!("{what}: errno {e}"))?;
        Ok(Arc::new(fd))
    }

    /// The workloads the machine can run, and why the others are skipped.
    fn workloads(s: &Setup) -> (Vec<Workload>, Vec<String>) {
        let d = s.dir.display().to_string();
        // A copy inside the allowed tree: Landlock checks an exec's open as
        // a read, and target/ is outside the profile's file-read* rules.
        let me = s.dir.join("opens");
        std::fs::copy(std::env::current_exe().unwrap(), &me).expect("copy of the bench binary");
        let me = me.display().to_string();
        let sh = |script: String| vec!["/bin/sh".to_owned(), "-c".to_owned(), script];
        let mut skipped = Vec::new();
        let mut all = vec![Workload {
            name: "opens",
            shown: "20,000 open+close of an allowed file".into(),
            argv: vec![
                me,
                OPENS_CHILD.into(),
                OPENS.to_string(),
                format!("{d}/in.txt"),
            ],
        }];
        all.push(Workload {
            name: "find",
            shown: "`find /usr -type f \\| wc -l`".into(),
            argv: sh("find /usr -type f | wc -l".into()),
        });
        if Path::new("/usr/share/doc").is_dir() && which("tar").is_some() {
            all.push(Workload {
                name: "tar",
                shown: "`tar cf allowed/x.tar -C /usr/share/doc .`".into(),
                argv: sh(format!("tar cf {d}/allowed/x.tar -C /usr/share/doc .")),
            });
        } else {
            skipped.push("tar: no tar or no /usr/share/doc".into());
        }
        match which("python3") {
            Some(py) => all.push(Workload {
                name: "python",
                shown: "`python3 -c \"import json, email, http.client, asyncio, decimal, \
                        xml.etree.ElementTree\"`"
                    .into(),
                argv: vec![
                    py.display().to_string(),
                    "-B".into(),
                    "-c".into(),
                    "import json, email, http.client, asyncio, decimal, xml.etree.ElementTree"
                        .into(),
                ],
            }),
            None => skipped.push("python: no python3 in /usr/bin or /bin".into()),
        }
        let gcc = which("gcc");
        match &gcc {
            Some(g) => all.push(Workload {
                name: "gcc",
                shown: "`gcc -O2` of a small file".into(),
                argv: vec![
                    g.display().to_string(),
                    "-O2".into(),
                    "-o".into(),
                    format!("{d}/allowed/hello"),
                    format!("{d}/allowed/hello.c"),
                ],
            }),
            None => skipped.push("gcc: no gcc".into()),
        }
        all.push(Workload {
            name: "forkexec",
            shown: "200 fork+exec of /bin/true".into(),
            argv: sh("i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done".into()),
        });
        let chosen = std::env::var("SBCHECK_WORKLOADS").ok();
        let wanted = |name: &str| {
            chosen
                .as_deref()
                .map_or(true, |c| c.split(',').any(|n| n.trim() == name))
        };
        (
            all.into_iter().filter(|w| wanted(w.name)).collect(),
            skipped,
        )
    }

    /// Runs `argv` once in `mode`: its wall time.
    fn run_once(s: &Setup, mode: Mode, argv: &[String]) -> Result<Duration, String> {
        let mut cmd = match mode {
            Mode::Bare | Mode::Floor => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
            Mode::NotifyFloorPinned | Mode::NotifyFloorUnpinned => {
                let mut c = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
                let pinned = mode == Mode::NotifyFloorPinned;
                c.arg(NOTIFY_FLOOR)
                    .arg(if pinned { "pinned" } else { "unpinned" })
                    .arg(&s.profile)
                    .args(argv);
                c
            }
            _ => {
                let bin = match mode {
                    Mode::BaselinePinned | Mode::BaselineUnpinned => {
                        baseline().ok_or("no SBCHECK_BASELINE")?
                    }
                    _ => PathBuf::from(SBCHECK),
                };
                let mut c = Command::new(bin);
                c.arg("exec").arg("--profile").arg(&s.profile);
                if mode == Mode::Kernel {
                    c.arg("--kernel");
                }
                if matches!(mode, Mode::Pinned | Mode::BaselinePinned) {
                    c.args(["--cpus", "0"]);
                }
                c.arg("--").args(argv);
                c
            }
        };
        if mode == Mode::Floor {
            landlock::confine(&mut cmd, s.ruleset.clone()?);
        }
        // cargo bench sets LD_LIBRARY_PATH to the target's folders: every
        // exec's loader would then try them first, a dozen failed opens per
        // exec (each a round trip under sbcheck) that a user's shell does
        // not make (200 fork+exec measured 2.3x with it, 1.1x without).
        cmd.current_dir(s.dir.join("allowed"))
            .env_remove("LD_LIBRARY_PATH")
            .env("TMPDIR", s.dir.join("allowed"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let child = cmd.spawn();
        let out = child
            .map_err(|e| format!("{}: {e}", argv[0]))?
            .wait_with_output()
            .map_err(|e| e.to_string())?;
        let took = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                mode.label(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        Ok(took)
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    fn rounds() -> usize {
        std::env::var("SBCHECK_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .filter(|&r| r > 0)
            .unwrap_or(5)
    }

    pub fn main() {
        let s = setup();
        let (workloads, mut skipped) = workloads(&s);
        let modes: Vec<Mode> = MODES
            .into_iter()
            .filter(|&m| m != Mode::Floor || s.ruleset.is_ok())
            .collect();
        if let Err(why) = &s.ruleset {
            skipped.push(format!("Landlock floor and --kernel: {why}"));
        }
        let mut modes: Vec<Mode> = modes
            .into_iter()
            .filter(|&m| m != Mode::Kernel || s.ruleset.is_ok())
            .collect();
        if baseline().is_some() {
            modes.extend([Mode::BaselinePinned, Mode::BaselineUnpinned]);
        }
        let n = rounds();
        // times[w][m][round] in seconds; None once a mode failed.
        let mut times = vec![vec![Some(Vec::new()); modes.len()]; workloads.len()];
        // One round untimed: the first run of each would pay the page cache.
        for w in &workloads {
            for &m in &modes {
                let _ = run_once(&s, m, &w.argv);
            }
        }
        for round in 0..n {
            for (wi, w) in workloads.iter().enumerate() {
                // Each round starts at another mode: the first run after
                // another workload pays for its caches, and that cost
                // would always fall on the same mode (it made python3's
                // bare run slower than its supervised ones).
                for k in 0..modes.len() {
                    let mi = (k + round) % modes.len();
                    let m = modes[mi];
                    let Some(list) = &mut times[wi][mi] else {
                        continue;
                    };
                    match run_once(&s, m, &w.argv) {
                        Ok(t) => list.push(t.as_secs_f64()),
                        Err(e) => {
                            skipped.push(format!("{} {}: {e}", w.name, m.label()));
                            times[wi][mi] = None;
                        }
                    }
                }
            }
            eprintln!("round {}/{n} done", round + 1);
        }
        let parallel = parallel(&s, n, &mut skipped);
        print_table(&workloads, &modes, &times, n);
        if let Some(line) = parallel {
            println!("{line}");
        }
        for why in &skipped {
            println!("skipped: {why}");
        }
        let _ = std::fs::remove_dir_all(&s.dir);
    }

    fn print_table(
        workloads: &[Workload],
        modes: &[Mode],
        times: &[Vec<Option<Vec<f64>>>],
        n: usize,
    ) {
        let cpus = std::thread::available_parallelism().map_or(0, |c| c.get());
        println!();
        println!(
            "Median of {n} interleaved rounds on {cpus} CPUs, ratio to the same round's bare run \
             (median time in parentheses):"
        );
        println!();
        let header: Vec<&str> = modes.iter().map(|m| m.label()).collect();
        println!("| workload | {} |", header.join(" | "));
        println!("|---|{}", "---|".repeat(modes.len()));
        for (wi, w) in workloads.iter().enumerate() {
            let bare = times[wi][0].clone().unwrap_or_default();
            let cells: Vec<String> = modes
                .iter()
                .enumerate()
                .map(|(mi, &m)| match &times[wi][mi] {
                    None => "failed".into(),
                    Some(t) if m == Mode::Bare => format!("{:.1} ms", 1e3 * median(t.clone())),
                    Some(t) => {
                        let ratios = t.iter().zip(&bare).map(|(a, b)| a / b).collect();
                        format!("{:.2}x ({:.1} ms)", median(ratios), 1e3 * median(t.clone()))
                    }
                })
                .collect();
            println!("| {} | {} |", w.shown, cells.join(" | "));
        }
        println!();
    }

    /// Two compilers at once under sbcheck unpinned and pinned to one CPU:
    /// the line to print, or `None` (the reason in `skipped`).
    fn parallel(s: &Setup, n: usize, skipped: &mut Vec<String>) -> Option<String> {
        let wanted = std::env::var("SBCHECK_WORKLOADS")
            .map_or(true, |c| c.split(',').any(|w| w.trim() == "parallel"));
        if !wanted {
            return None;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
        let Some(gcc) = which("gcc") else {
            skipped.push("parallel: no gcc".into());
            return None;
        };
        if cpus < 2 {
            skipped.push("parallel: one CPU".into());
            return None;
        }
        let d = s.dir.display();
        let g = gcc.display();
        let script = format!(
            "{g} -O2 -o {d}/allowed/h0 {d}/allowed/hello0.c & \
             {g} -O2 -o {d}/allowed/h1 {d}/allowed/hello1.c & wait"
        );
        let argv = vec!["/bin/sh".to_owned(), "-c".to_owned(), script];
        let (mut default, mut pinned, mut bare) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            for (mode, list) in [
                (Mode::Bare, &mut bare),
                (Mode::Unpinned, &mut default),
                (Mode::Pinned, &mut pinned),
            ] {
                match run_once(s, mode, &argv) {
                    Ok(t) => list.push(t.as_secs_f64()),
                    Err(e) => {
                        skipped.push(format!("parallel: {e}"));
                        return None;
                    }
                }
            }
        }
        let ratios: Vec<f64> = pinned.iter().zip(&default).map(|(p, d)| p / d).collect();
        Some(format!(
            "Two compilers at once: bare {:.1} ms, sbcheck default {:.1} ms, sbcheck pinned to one \
             CPU {:.1} ms: the default finishes {:.2}x sooner (median of {n}).",
            1e3 * median(bare),
            1e3 * median(default),
            1e3 * median(pinned),
            median(ratios)
        ))
    }
}
