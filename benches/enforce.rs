//! What a supervised open costs, against a bare notify-and-continue round
//! trip: `cargo bench --bench enforce` (release).
//!
//! The benchmark pins itself to one CPU (so the sandboxed child, forked from
//! it, and the supervisor share it, as the filter's synchronous wake-ups
//! intend), then times `openat` + `close` in a child, one sample per open,
//! under:
//!
//! - no filter (the open alone, in this process);
//! - bare: every openat notified and answered CONTINUE unread;
//! - bare injection: every openat's path opened as written and its fd
//!   injected, without the profile: the least that answering opens by fd
//!   injection costs, what a supervised open cannot go below;
//! - supervised, injected: the verdict depends on the path, so the
//!   supervisor reads and resolves the path, evaluates the profile, opens
//!   the file and injects the fd;
//! - supervised, continue: the same work with the answer CONTINUE (the
//!   verdict does not depend on the path, or injection is off);
//! - the floor: the supervisor's own syscalls for one open (read the path,
//!   an lstat per component, or for injection, decided on the path as
//!   written, its openat2, fcntl and close), timed in this process without
//!   any notification;
//! - bare and injected again on every CPU the caller may use (not pinned).
//!
//! It prints the median and 90th percentile of each, the ratio of each
//! supervised median to the bare one, and how often the sandboxed child was
//! preempted (its involuntary context switches per open, from the rusage of
//! the reaped child): an fd injection ends with the kernel waking the
//! supervisor without the synchronous wake-up, which may preempt the child.
//! `benches/suite.rs` runs the same measurement as its item 2.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn main() {
    bench::main();
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn main() {
    eprintln!("the enforcement benchmark needs Linux on x86_64");
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod bench {
    use sbcheck::apply::linux::calls;
    use sbcheck::apply::linux::cpu::IdlePoll;
    use sbcheck::apply::linux::{Filter, Options, Passthrough, Supervisor};
    use sbcheck::apply::process::{self, Ending, Enforcer, Spec};
    use sbcheck::apply::sys::{affinity, now_ns, pin_to_cpu, set_affinity, Shared};
    use sbcheck::blob::Profile;
    use std::ffi::CString;
    use std::time::Duration;

    /// Opens timed per configuration (after a warm-up of a tenth as many).
    pub const OPENS: usize = 20_000;
    const WARM_UP: usize = OPENS / 10;

    fn compile(src: &str) -> Profile {
        let blob = sbcheck::sbpl::compile(src, &Default::default()).expect("benchmark profile");
        Profile::decode(&blob).expect("benchmark blob")
    }

    /// Times `OPENS` opens of `path`, each into `samples`.
    fn time_opens(path: &CString, samples: &Shared) -> i32 {
        for i in 0..WARM_UP + OPENS {
            let t0 = now_ns();
            let fd = match calls::openat(libc::AT_FDCWD, path, libc::O_RDONLY | libc::O_CLOEXEC, 0)
            {
                Ok(fd) => fd as i32,
                Err(e) => return e,
            };
            let _ = calls::close(fd);
            let t1 = now_ns();
            if i >= WARM_UP {
                samples.set(i - WARM_UP, t1 - t0);
            }
        }
        0
    }

    pub struct Stats {
        pub median: u64,
        pub p90: u64,
        pub min: u64,
        pub max: u64,
        /// The sandboxed child's involuntary context switches per open
        /// (`None` where no child ran).
        pub preempted: Option<f64>,
    }

    impl Stats {
        /// The preempted share as a percentage, "-" where no child ran.
        pub fn preempted_percent(&self) -> String {
            self.preempted
                .map_or("-".to_string(), |p| format!("{:.0}%", p * 100.0))
        }
    }

    fn stats(samples: &Shared) -> Stats {
        let mut v: Vec<u64> = (0..samples.len()).map(|i| samples.get(i)).collect();
        v.sort_unstable();
        Stats {
            median: v[v.len() / 2],
            p90: v[v.len() * 9 / 10],
            min: v[0],
            max: v[v.len() - 1],
            preempted: None,
        }
    }

    /// Involuntary context switches of this process's reaped children so far.
    fn children_preempted() -> i64 {
        // SAFETY: all-zero is a valid rusage, written by the call;
        // RUSAGE_CHILDREN covers the waited-for children.
        unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
            u.ru_nivcsw
        }
    }

    /// What the supervisor's own syscalls for one allowed open of `path`
    /// cost in this process, with no notification: reading the path from
    /// the caller's memory (process_vm_readv) and an lstat per component
    /// (the resolution); for the injected answer, decided on the path as
    /// written, no lstat at all, then its own openat2 (O_NONBLOCK,
    /// RESOLVE_NO_SYMLINKS), the fcntl that clears O_NONBLOCK and the close
    /// of its copy. `(continue, injected)`.
    fn floors(path: &CString) -> (Stats, Stats) {
        let me = std::process::id() as i32;
        let text = path.to_str().expect("utf-8 path");
        let prefixes: Vec<&str> = text
            .match_indices('/')
            .skip(1)
            .map(|(i, _)| &text[..i])
            .chain([text])
            .collect();
        let resolve = || {
            let raw = sbcheck::apply::linux::notify::read_c_string(me, path.as_ptr() as u64);
            assert!(raw.is_ok(), "reading the path");
            for p in &prefixes {
                std::hint::black_box(std::fs::symlink_metadata(p).is_ok());
            }
        };
        let cont = Shared::new(OPENS).expect("shared memory");
        let inj = Shared::new(OPENS).expect("shared memory");
        for i in 0..OPENS {
            let t0 = now_ns();
            resolve();
            let t1 = now_ns();
            let raw = sbcheck::apply::linux::notify::read_c_string(me, path.as_ptr() as u64);
            assert!(raw.is_ok(), "reading the path");
            // The supervisor's open of a file it injects: O_NONBLOCK so a
            // FIFO cannot block it, then the fcntl that clears it.
            let fd = calls::buf::openat2(
                libc::AT_FDCWD,
                path,
                (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) as u64,
                0,
                libc::RESOLVE_NO_SYMLINKS,
            )
            .expect("openat2") as i32;
            // SAFETY: F_SETFL with an integer, on our own fd.
            unsafe { libc::fcntl(fd, libc::F_SETFL, 0) };
            let _ = calls::close(fd);
            let t2 = now_ns();
            cont.set(i, t1 - t0);
            inj.set(i, t2 - t1);
        }
        (stats(&cont), stats(&inj))
    }

    /// Runs the timed opens in a sandboxed child, supervised as a probe is.
    fn supervised(
        profile: &Profile,
        path: &CString,
        setup: impl Fn(&mut Supervisor<'_>),
    ) -> (Stats, String) {
        supervised_as(profile, path, setup, Spec::probe(Duration::from_secs(120)))
    }

    /// Runs the timed opens in a sandboxed child, the loop set by `spec`.
    fn supervised_as(
        profile: &Profile,
        path: &CString,
        setup: impl Fn(&mut Supervisor<'_>),
        spec: Spec,
    ) -> (Stats, String) {
        let samples = Shared::new(OPENS).expect("shared memory");
        let preempted_before = children_preempted();
        let filter = Filter::new();
        let mut sup = Supervisor::new(profile, Options::default());
        sup.set_record(false);
        setup(&mut sup);
        let enforcer = Enforcer::Linux {
            filter: &filter,
            supervisor: &mut sup,
        };
        let ending = process::run(enforcer, spec, &|| time_opens(path, &samples)).expect("run");
        assert_eq!(
            ending,
            Ending::Reported { result: 0 },
            "the timed child failed"
        );
        let preempted = children_preempted() - preempted_before;
        let mut st = stats(&samples);
        st.preempted = Some(preempted as f64 / (WARM_UP + OPENS) as f64);
        (st, format!("{:?}", sup.stats))
    }

    /// Medians and 90th percentiles of every configuration, one run.
    pub struct Openat {
        pub cpu_note: &'static str,
        pub alone: Stats,
        pub bare: Stats,
        /// Opens answered by injection without the profile: the floor of
        /// the injected answer.
        pub bare_injection: Stats,
        pub injected: Stats,
        pub cont: Stats,
        pub cont_path: Stats,
        /// The supervisor's own syscalls for one open, without any
        /// notification: what the supervised medians cannot go below.
        pub floor_continue: Stats,
        pub floor_injected: Stats,
        /// Bare and injected again, on every CPU the caller may use: an
        /// injected fd wakes the process without the synchronous wake-up.
        pub bare_unpinned: Stats,
        pub injected_unpinned: Stats,
        /// Injected, supervised as `sbcheck exec` does: the supervisor
        /// waits in the RECV ioctl itself, no poll() per round trip.
        pub injected_command: Stats,
        /// Bare and injected unpinned, as `sbcheck exec` runs as root: idle
        /// CPUs held polling, no synchronous wake-ups. `None` where the
        /// request cannot be made (not root).
        pub idle_poll: Option<(Stats, Stats)>,
        pub counts: String,
    }

    /// Runs every configuration pinned to CPU 0, then bare and injected
    /// on the CPUs the caller had (its affinity is restored).
    pub fn measure() -> Openat {
        let saved = affinity();
        let cpu_note = match pin_to_cpu(0) {
            Ok(()) => "pinned to CPU 0",
            Err(_) => "not pinned (sched_setaffinity failed)",
        };
        let dir = tempfile::Builder::new()
            .prefix("sbcheck-bench")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        std::fs::write(root.join("f"), "x").expect("bench file");
        let path = CString::new(root.join("f").to_str().expect("utf-8 path")).expect("no NUL");

        // No filter at all: the open itself.
        let samples = Shared::new(OPENS).expect("shared memory");
        assert_eq!(time_opens(&path, &samples), 0);
        let alone = stats(&samples);

        let by_path = compile(&format!(
            "(version 1)(deny default)(allow file-read* (subpath \"{}\"))",
            root.display()
        ));
        let any = compile("(version 1)(allow default)");
        let (bare, _) = supervised(&any, &path, |s| s.set_passthrough(Passthrough::Continue));
        let (bare_injection, _) =
            supervised(&any, &path, |s| s.set_passthrough(Passthrough::InjectOpens));
        let (injected, inj_stats) = supervised(&by_path, &path, |_| {});
        let (cont, cont_stats) = supervised(&any, &path, |_| {});
        let (cont_path, _) = supervised(&by_path, &path, |s| s.set_injection(false));
        let (injected_command, _) = supervised_as(&by_path, &path, |_| {}, Spec::command());
        let (floor_continue, floor_injected) = floors(&path);
        let _ = set_affinity(&saved);
        let (bare_unpinned, _) =
            supervised(&any, &path, |s| s.set_passthrough(Passthrough::Continue));
        let (injected_unpinned, _) = supervised(&by_path, &path, |_| {});
        let idle_poll = IdlePoll::hold().ok().map(|_held| {
            let mut spec = Spec::probe(Duration::from_secs(120));
            spec.sync_wakeups = false;
            let any_passthrough = |s: &mut Supervisor<'_>| s.set_passthrough(Passthrough::Continue);
            let (bare, _) = supervised_as(&any, &path, any_passthrough, spec);
            let (injected, _) = supervised_as(&by_path, &path, |_| {}, spec);
            (bare, injected)
        });
        Openat {
            cpu_note,
            alone,
            bare,
            bare_injection,
            injected,
            cont,
            cont_path,
            floor_continue,
            floor_injected,
            bare_unpinned,
            injected_unpinned,
            injected_command,
            idle_poll,
            counts: format!("injected run {inj_stats}, continue run {cont_stats}"),
        }
    }

    pub fn main() {
        let m = measure();
        let bare = &m.bare;
        println!(
            "openat + close, {OPENS} samples each, release build, {}",
            m.cpu_note
        );
        println!(
            "{:<48} {:>10} {:>10} {:>8} {:>10}",
            "configuration", "median", "p90", "x bare", "preempted"
        );
        let row = |name: &str, s: &Stats| {
            println!(
                "{name:<48} {:>8.2}us {:>8.2}us {:>8.2} {:>10}",
                s.median as f64 / 1000.0,
                s.p90 as f64 / 1000.0,
                s.median as f64 / bare.median as f64,
                s.preempted_percent()
            );
        };
        row("no filter", &m.alone);
        row("bare notify + CONTINUE", &m.bare);
        row(
            "bare injection: path as written, fd injected",
            &m.bare_injection,
        );
        row(
            "supervised, path-dependent verdict, fd injected",
            &m.injected,
        );
        row("supervised, path-independent verdict, CONTINUE", &m.cont);
        row("supervised, path-dependent, injection off", &m.cont_path);
        row(
            "floor: the supervisor's syscalls, CONTINUE",
            &m.floor_continue,
        );
        row(
            "floor: the supervisor's syscalls, injected",
            &m.floor_injected,
        );
        row(
            "supervised, fd injected, waiting in RECV (exec)",
            &m.injected_command,
        );
        row("not pinned: bare notify + CONTINUE", &m.bare_unpinned);
        row("not pinned: supervised, fd injected", &m.injected_unpinned);
        match &m.idle_poll {
            Some((bare_poll, injected_poll)) => {
                row("not pinned, idle CPUs polling: bare", bare_poll);
                row("not pinned, idle CPUs polling: injected", injected_poll);
            }
            None => {
                println!("not pinned, idle CPUs polling: skipped (/dev/cpu_dma_latency needs root)")
            }
        }
        println!("supervisor counts: {}", m.counts);
    }
}
