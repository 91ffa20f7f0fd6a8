//! Cells: one profile x one probe. The harness loads (or compiles) the
//! profile, asks the decoder what it predicts, then forks a child that
//! enters the sandbox and runs the probe, and records what was observed.

use crate::apply::linux::Intercept;
use crate::apply::process::{Ending, ExitStatus};
use crate::apply::Backend;
use crate::blob::{Node, Profile};
use crate::decision::{evaluate, explain, filter_sbpl, Args, Branch, Decision, Verdict};
use crate::macos_paths::PathModel;
use crate::matrix::{Matrix, MatrixError, ProbeSpec, ProfileSpec};
use crate::probe::{Kind as ProbeKind, Probe};
use crate::sbpl::Options;
use crate::vocab::filter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the decoder predicts for a cell, without running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// The concrete operation the probe exercises, e.g. `file-read-data`.
    pub operation: String,
    /// The op-table entry the walk started from.
    pub bucket: u16,
    pub node_path: Vec<u16>,
    /// `None` when the decoder cannot decide (the reason is in `rule`).
    pub verdict: Option<Verdict>,
    /// The deciding rule, as SBPL.
    pub rule: String,
    /// The nodes of `node_path`, with their edges: enough to draw the walk.
    pub nodes: Vec<PathNode>,
}

/// One node the decision walk visited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathNode {
    Filter {
        index: u16,
        /// The filter and its argument as SBPL, e.g. `(subpath "/tmp/foo")`.
        sbpl: String,
        matched: u16,
        unmatched: u16,
        /// Which edge the walk took.
        took_match: bool,
    },
    Terminal {
        index: u16,
        verdict: Verdict,
    },
}

/// The visited nodes of a decision, in walk order.
pub fn path_nodes(profile: &Profile, d: &Decision) -> Vec<PathNode> {
    d.steps
        .iter()
        .filter_map(|s| match profile.nodes.get(usize::from(s.node))? {
            Node::Filter {
                matched, unmatched, ..
            } => Some(PathNode::Filter {
                index: s.node,
                sbpl: filter_sbpl(profile, s.node),
                matched: *matched,
                unmatched: *unmatched,
                took_match: s.branch == Branch::Match,
            }),
            Node::Terminal(a) => Some(PathNode::Terminal {
                index: s.node,
                verdict: if a.is_deny() {
                    Verdict::Deny
                } else {
                    Verdict::Allow
                },
            }),
        })
        .collect()
}

/// The observed outcome of a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The probe ran; its syscall returned this errno (0 = success).
    Errno(i32),
    /// The probe was killed at the per-cell timeout.
    TimedOut(Duration),
    /// The child crashed or exited without reporting.
    Died(String),
    /// The sandbox could not be applied.
    ApplyFailed(String),
    /// Not run, and why (a probe with no meaning on this platform).
    Skipped(String),
    /// Not run: the profile could not be read, compiled or decoded.
    ProfileError(String),
}

impl Observed {
    /// 0 is allow, EPERM (Seatbelt's denial) is deny; anything else is no
    /// verdict at all and never matches.
    pub fn verdict(&self) -> Option<Verdict> {
        match self {
            Observed::Errno(0) => Some(Verdict::Allow),
            Observed::Errno(e) if *e == libc::EPERM => Some(Verdict::Deny),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Observed::Errno(0) => "allow".into(),
            Observed::Errno(e) if *e == libc::EPERM => "deny (EPERM)".into(),
            Observed::Errno(e) => format!("error: {}", std::io::Error::from_raw_os_error(*e)),
            Observed::TimedOut(d) => format!("timeout after {} ms", d.as_millis()),
            Observed::Died(why) => format!("child died: {why}"),
            Observed::ApplyFailed(why) => format!("apply failed: {why}"),
            Observed::Skipped(why) => format!("skipped: {why}"),
            Observed::ProfileError(why) => format!("profile error: {why}"),
        }
    }
}

/// Everything known about one cell after it ran: the trace's content.
#[derive(Debug, Clone)]
pub struct CellRecord {
    pub profile: String,
    pub probe: String,
    pub label: Option<String>,
    /// The node `default`'s op-table entry points at: the research plan's
    /// profile "bucket" (v1_read is a bucket-4 profile).
    pub profile_bucket: u16,
    pub expectation_id: Option<String>,
    /// The operation as the matrix names it, e.g. `file-read*`.
    pub operation: String,
    pub target: String,
    /// `None`: the matrix expects no verdict at all, because the decision
    /// needs an argument this platform cannot supply (the cell is skipped).
    pub expected: Option<Verdict>,
    pub decoder: Prediction,
    pub observed: Observed,
    pub backend: Backend,
    pub macos_paths: bool,
    /// Every syscall the supervisor judged during the probe.
    pub intercepts: Vec<Intercept>,
    pub duration: Duration,
}

impl CellRecord {
    /// Expected, decoder and observed verdicts all agree.
    pub fn matches(&self) -> bool {
        self.expected.is_some()
            && self.decoder.verdict == self.expected
            && self.observed.verdict() == self.expected
    }

    /// The expectation as the matrix writes it.
    pub fn expected_str(&self) -> &'static str {
        self.expected.map_or(UNDETERMINED, Verdict::as_str)
    }

    pub fn skipped(&self) -> bool {
        matches!(self.observed, Observed::Skipped(_))
    }
}

/// The matrix's word for "no verdict without an argument we cannot give".
pub const UNDETERMINED: &str = crate::matrix::UNDETERMINED;

/// How cells are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub root: PathBuf,
    pub macos_paths: bool,
    pub timeout: Duration,
    /// Who enforces: the Linux engine or macOS's `sandbox_apply`.
    pub backend: Backend,
    /// [`run_profile`]: fork a profile's probes from one zygote (Linux), the
    /// filter installed once. Off with `SBCHECK_ZYGOTE=0` (or `sbcheck run
    /// --no-zygote`): every cell forks its own child, as `cargo test` does.
    pub zygote: bool,
}

impl RunOptions {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunOptions {
            root: root.into(),
            macos_paths: false,
            timeout: Duration::from_secs(10),
            backend: Backend::native(),
            zygote: std::env::var("SBCHECK_ZYGOTE").map_or(true, |v| v != "0"),
        }
    }
}

/// Why a cell could not even be prepared.
#[derive(Debug)]
pub enum CellError {
    Matrix(MatrixError),
    Profile(String),
    Probe(String),
    /// The profile's text is not on this machine (an Apple system profile,
    /// which the project does not ship): its cells are skipped with this.
    Unavailable(String),
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellError::Matrix(e) => write!(f, "{e}"),
            CellError::Profile(e) => write!(f, "profile: {e}"),
            CellError::Probe(e) => write!(f, "probe: {e}"),
            CellError::Unavailable(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CellError {}

/// A profile ready to apply: its blob and the decoded form.
pub struct LoadedProfile {
    pub blob: Vec<u8>,
    pub profile: Profile,
}

/// Loads a compiled blob as it is, or compiles a `.sb` source with `params`.
pub fn load_profile(
    root: &Path,
    source: &str,
    params: &[(String, String)],
) -> Result<LoadedProfile, CellError> {
    load_profile_with(root, source, params, &crate::sbpl::SearchPath::standard())
}

/// [`load_profile`] with the directories `(import ...)` looks in (the
/// command line's `-I`).
pub fn load_profile_with(
    root: &Path,
    source: &str,
    params: &[(String, String)],
    search: &crate::sbpl::SearchPath,
) -> Result<LoadedProfile, CellError> {
    let path = source_path(root, source, search)?;
    let blob = if source.ends_with(".sb") {
        let options = Options {
            params: params.to_vec(),
        };
        crate::sbpl::compile_file_with(&path, &options, search)
            .map_err(|e| CellError::Profile(e.to_string()))?
    } else {
        std::fs::read(&path).map_err(|e| CellError::Profile(format!("{}: {e}", path.display())))?
    };
    let profile = Profile::decode(&blob)
        .map_err(|e| CellError::Profile(format!("{}: {e}", path.display())))?;
    Ok(LoadedProfile { blob, profile })
}

/// The prefix of a matrix `source` that names one of Apple's system
/// profiles (`system:bsd.sb`) rather than a file of the project.
pub const SYSTEM_SOURCE: &str = "system:";

/// The file a matrix `source` names: relative to the project root, or for
/// `system:NAME` the first copy in macOS's profile folders or
/// `$SBCHECK_SBPL_PATH`, as an import finds it.
fn source_path(
    root: &Path,
    source: &str,
    search: &crate::sbpl::SearchPath,
) -> Result<PathBuf, CellError> {
    let Some(name) = source.strip_prefix(SYSTEM_SOURCE) else {
        return Ok(root.join(source));
    };
    search.find(name).ok_or_else(|| {
        let looked: Vec<String> = search.0.iter().map(|d| d.display().to_string()).collect();
        CellError::Unavailable(format!(
            "Apple's {name} is not on this machine (looked in {}); the project does not ship \
             Apple's text: set SBCHECK_SBPL_PATH to folders holding macOS's system profiles \
             (CI uses ../shared/realworld/apple-macos-10.15.2/Profiles and usr-share-sandbox)",
            looked.join(", ")
        ))
    })
}

/// Creates the matrix's fixture directories and files if missing.
/// Idempotent and safe from concurrent tests: a file appears whole or not
/// at all.
pub fn ensure_fixtures(matrix: &Matrix) -> std::io::Result<()> {
    for dir in &matrix.fixtures.dirs {
        std::fs::create_dir_all(dir).map_err(|e| fixture_error(Path::new(dir), e))?;
    }
    for path in &matrix.fixtures.files {
        let path = Path::new(path);
        if !path.exists() {
            crate::report::write_atomic(path, b"sbcheck fixture\n")
                .map_err(|e| fixture_error(path, e))?;
        }
    }
    for path in &matrix.fixtures.programs {
        ensure_program(Path::new(path)).map_err(|e| fixture_error(Path::new(path), e))?;
    }
    for (link, to) in &matrix.fixtures.links {
        ensure_link(Path::new(link), Path::new(to))
            .map_err(|e| fixture_error(Path::new(link), e))?;
    }
    Ok(())
}

/// A fixture that cannot be made, named, with the likely fix: the matrix
/// has macOS-layout fixtures under `/private`, which only root can create
/// on Linux, and a fixture left by another user is not ours to rewrite.
fn fixture_error(path: &Path, e: std::io::Error) -> std::io::Error {
    let hint = if e.kind() != std::io::ErrorKind::PermissionDenied {
        ""
    } else if path.starts_with("/private") && !Path::new("/private/tmp").is_dir() {
        " (run as root, or once: sudo mkdir -p -m 1777 /private/tmp)"
    } else {
        " (left by another user? remove it, or run as its owner)"
    };
    std::io::Error::new(e.kind(), format!("{}: {e}{hint}", path.display()))
}

/// A symbolic link fixture; a concurrent cell making the same link is fine.
fn ensure_link(link: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::read_link(link).is_ok_and(|t| t == to) {
        return Ok(());
    }
    remove_if_present(link)?;
    if let Some(dir) = link.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::os::unix::fs::symlink(to, link) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// What a fixture program holds: the kernel runs `/bin/true` for it, which
/// exits at once without reading the script (a `sh` script would be opened
/// by `sh`, under the profile, and complain on the test's stderr).
const PROGRAM: &[u8] = b"#!/bin/true\n";

/// An executable script for process-exec* probes: an allowed exec ends the
/// child quickly whatever the profile lets the program do afterwards.
fn ensure_program(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let ready = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            && std::fs::read(p).is_ok_and(|b| b == PROGRAM)
    };
    if ready(path) {
        return Ok(());
    }
    // Made executable under a temporary name, then renamed into place, so a
    // concurrent cell never execs a half-written or non-executable file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("{}.{seq}.tmp", std::process::id()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&tmp, PROGRAM)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, path)
}

/// The decoder's prediction for a probe: the same arguments the engine
/// will see, without running anything.
pub fn predict(profile: &Profile, probe: &Probe, macos_paths: bool) -> Prediction {
    let model = if macos_paths {
        PathModel::MacosKernel
    } else {
        PathModel::AsGiven
    };
    // The first path tested is the path argument; macOS's kernel also
    // matches a second form (crate::macos_paths), given as another value.
    let tested: Vec<Vec<u8>> = probe.path_arg().map_or_else(Vec::new, |p| {
        model
            .tested(Path::new(p))
            .into_iter()
            .map(|p| p.into_os_string().into_encoded_bytes())
            .collect()
    });
    let path = tested.first();
    let ints = probe.int_args();
    let strings_owned = probe.string_args();
    let strings: Vec<(u8, &[u8])> = strings_owned
        .iter()
        .map(|(f, v)| (*f, v.as_slice()))
        .chain(tested.iter().skip(1).map(|p| (filter::PATH, p.as_slice())))
        .collect();
    let args = Args {
        path: path.map(Vec::as_slice),
        ints: &ints,
        strings: &strings,
    };
    let d = evaluate(profile, probe.operation(profile.vocab), &args);
    Prediction {
        operation: probe.kind.operation().to_owned(),
        bucket: d.bucket,
        node_path: d.node_path(),
        verdict: d.verdict(),
        rule: explain(profile, &d),
        nodes: path_nodes(profile, &d),
    }
}

/// Runs one cell of the matrix by name.
pub fn run_named(
    matrix: &Matrix,
    profile: &str,
    probe: &str,
    opts: &RunOptions,
) -> Result<CellRecord, CellError> {
    let spec = matrix
        .profile(profile)
        .ok_or_else(|| CellError::Probe(format!("no profile {profile} in the matrix")))?;
    let probe_spec = spec
        .probe(probe)
        .ok_or_else(|| CellError::Probe(format!("no probe {probe} in profile {profile}")))?;
    let loaded = match load_profile(&opts.root, &spec.source, &spec.params) {
        Ok(l) => l,
        // Still a record, so the failure leaves a trace like any cell.
        Err(e) => {
            let observed = match e {
                CellError::Unavailable(why) => Observed::Skipped(why),
                e => Observed::ProfileError(e.to_string()),
            };
            return Ok(unrunnable(spec, probe_spec, observed, opts));
        }
    };
    ensure_fixtures(matrix).map_err(|e| CellError::Probe(format!("creating fixtures: {e}")))?;
    let owned = matrix
        .fixtures
        .files
        .iter()
        .any(|f| f == &probe_spec.target);
    run_cell(spec, probe_spec, &loaded, owned, opts)
}

/// The record of a cell that could not run at all (its profile is broken).
pub fn unrunnable(
    spec: &ProfileSpec,
    probe_spec: &ProbeSpec,
    observed: Observed,
    opts: &RunOptions,
) -> CellRecord {
    let why = observed.describe();
    let expected = Verdict::parse(probe_spec.expected_for(opts.macos_paths));
    CellRecord {
        profile: spec.name.clone(),
        probe: probe_spec.name.clone(),
        label: spec.label.clone(),
        profile_bucket: 0,
        expectation_id: probe_spec.expectation_id.clone(),
        operation: probe_spec.operation.clone(),
        target: probe_spec.target.clone(),
        expected,
        decoder: Prediction {
            operation: probe_spec.operation.clone(),
            bucket: 0,
            node_path: Vec::new(),
            verdict: None,
            rule: format!(";; {why}"),
            nodes: Vec::new(),
        },
        observed,
        backend: Backend::native(),
        macos_paths: opts.macos_paths,
        intercepts: Vec::new(),
        duration: Duration::ZERO,
    }
}

/// Runs one cell: predict, fork, apply, probe, observe.
pub fn run_cell(
    spec: &ProfileSpec,
    probe_spec: &ProbeSpec,
    loaded: &LoadedProfile,
    owned: bool,
    opts: &RunOptions,
) -> Result<CellRecord, CellError> {
    let cell = Prepared::new(probe_spec, loaded, owned, opts)?;
    let started = Instant::now();
    let (observed, intercepts) = match &cell.skip {
        Some(why) => (Observed::Skipped(why.clone()), Vec::new()),
        None => {
            let _scratch = cell.scratch()?;
            observe(&loaded.profile, &cell.probe, opts)
        }
    };
    Ok(cell.record(spec, loaded, opts, (observed, intercepts), started))
}

/// A cell ready to run: its probe built, its prediction made.
struct Prepared<'m> {
    spec: &'m ProbeSpec,
    probe: Probe,
    expected: Option<Verdict>,
    decoder: Prediction,
    /// Why it does not run, if it does not.
    skip: Option<String>,
}

impl<'m> Prepared<'m> {
    fn new(
        probe_spec: &'m ProbeSpec,
        loaded: &LoadedProfile,
        owned: bool,
        opts: &RunOptions,
    ) -> Result<Prepared<'m>, CellError> {
        let peer = crate::probe::loopback_peer(&probe_spec.target)
            .map_err(|e| CellError::Probe(e.to_string()))?;
        let probe = Probe::new(&probe_spec.operation, &probe_spec.target, owned, peer)
            .map_err(|e| CellError::Probe(e.0))?;
        let expected = expectation(probe_spec, opts.macos_paths)?;
        let decoder = predict(&loaded.profile, &probe, opts.macos_paths);
        let skip = probe
            .kind
            .skip_reason()
            .map(str::to_owned)
            .or_else(|| unsuppliable(expected, &decoder));
        Ok(Prepared {
            spec: probe_spec,
            probe,
            expected,
            decoder,
            skip,
        })
    }

    /// The target state the probe needs, restored when dropped.
    fn scratch(&self) -> Result<Scratch, CellError> {
        Scratch::prepare(&self.probe)
            .map_err(|e| CellError::Probe(format!("preparing {}: {e}", self.probe.target)))
    }

    fn record(
        self,
        spec: &ProfileSpec,
        loaded: &LoadedProfile,
        opts: &RunOptions,
        (observed, intercepts): (Observed, Vec<Intercept>),
        started: Instant,
    ) -> CellRecord {
        CellRecord {
            profile: spec.name.clone(),
            probe: self.spec.name.clone(),
            label: spec.label.clone(),
            profile_bucket: loaded.profile.op_table.first().copied().unwrap_or_default(),
            expectation_id: self.spec.expectation_id.clone(),
            operation: self.spec.operation.clone(),
            target: self.spec.target.clone(),
            expected: self.expected,
            decoder: self.decoder,
            observed,
            backend: opts.backend,
            macos_paths: opts.macos_paths,
            intercepts,
            duration: started.elapsed(),
        }
    }
}

/// Runs cells of one profile (`(probe, whether the harness owns its
/// target)`), handing each result to `done(index, result)` the moment the
/// cell finishes, so an interrupted run keeps every finished cell; stops
/// between cells on an interrupt.
///
/// With [`RunOptions::zygote`] on the Linux engine, one zygote forks every
/// probe: the filter is installed once for all the cells, not once per
/// cell (see [`crate::apply::linux::zygote`]). The records are those of
/// [`run_cell`]; only `duration` differs (the zygote's own setup is in no
/// cell's). Where the zygote cannot start or stops serving, the remaining
/// cells run the per-cell way.
pub fn run_profile(
    spec: &ProfileSpec,
    cells: &[(&ProbeSpec, bool)],
    loaded: &LoadedProfile,
    opts: &RunOptions,
    done: &mut dyn FnMut(usize, Result<CellRecord, CellError>),
) {
    let mut next = 0;
    #[cfg(target_os = "linux")]
    if opts.zygote && opts.backend == Backend::Linux {
        next = zygote_cells(spec, cells, loaded, opts, done);
    }
    for (i, &(probe, owned)) in cells.iter().enumerate().skip(next) {
        if crate::apply::sys::interrupted() {
            return;
        }
        done(i, run_cell(spec, probe, loaded, owned, opts));
    }
}

/// The zygote part of [`run_profile`]: runs cells from the first on and
/// returns the index of the first cell it did not run (`cells.len()` when
/// it ran them all, or stopped at an interrupt).
#[cfg(target_os = "linux")]
fn zygote_cells(
    spec: &ProfileSpec,
    cells: &[(&ProbeSpec, bool)],
    loaded: &LoadedProfile,
    opts: &RunOptions,
    done: &mut dyn FnMut(usize, Result<CellRecord, CellError>),
) -> usize {
    // Every probe is built before the zygote forks: it only reads them.
    let mut prepared: Vec<Option<Result<Prepared<'_>, CellError>>> = cells
        .iter()
        .map(|&(probe, owned)| Some(Prepared::new(probe, loaded, owned, opts)))
        .collect();
    if !prepared
        .iter()
        .any(|p| matches!(p, Some(Ok(c)) if c.skip.is_none()))
    {
        return 0;
    }
    let config = crate::apply::Config {
        backend: Some(opts.backend),
        macos_paths: opts.macos_paths,
        record: true,
        ..crate::apply::Config::default()
    };
    let Ok(mut enforcement) = crate::apply::apply(&loaded.profile, &config) else {
        return 0;
    };
    let probes: Vec<Option<&Probe>> = prepared
        .iter()
        .map(|p| match p {
            Some(Ok(c)) => Some(&c.probe),
            _ => None,
        })
        .collect();
    // Runs in the probe after clone(): indexing and the probe's raw calls.
    let body = |i: usize| match probes.get(i) {
        Some(Some(probe)) => probe.run(),
        _ => libc::EINVAL,
    };
    let Some(Ok(mut zygote)) = enforcement.zygote(&body) else {
        return 0;
    };
    drop(probes);
    for (i, slot) in prepared.iter_mut().enumerate() {
        if crate::apply::sys::interrupted() {
            return cells.len();
        }
        let cell = match slot.take() {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                done(i, Err(e));
                continue;
            }
            None => continue,
        };
        let started = Instant::now();
        if let Some(why) = &cell.skip {
            let observed = (Observed::Skipped(why.clone()), Vec::new());
            done(i, Ok(cell.record(spec, loaded, opts, observed, started)));
            continue;
        }
        let scratch = match cell.scratch() {
            Ok(s) => s,
            Err(e) => {
                done(i, Err(e));
                continue;
            }
        };
        let Ok((ending, intercepts)) = zygote.run(i, opts.timeout) else {
            // The zygote is gone: this cell and the rest the per-cell way.
            drop(scratch);
            return i;
        };
        drop(scratch);
        let observed = observed_of(&cell.probe, ending, &intercepts, opts);
        done(
            i,
            Ok(cell.record(spec, loaded, opts, (observed, intercepts), started)),
        );
    }
    cells.len()
}

/// The cell's expected verdict; `None` where the matrix says
/// `undetermined`.
fn expectation(spec: &ProbeSpec, macos_paths: bool) -> Result<Option<Verdict>, CellError> {
    match spec.expected_for(macos_paths) {
        UNDETERMINED => Ok(None),
        v => Verdict::parse(v)
            .map(Some)
            .ok_or_else(|| CellError::Probe(format!("bad expected verdict {v}"))),
    }
}

/// Why a cell the matrix expects no verdict for is not run: the decoder
/// stopped at a filter whose argument (an entitlement, a process attribute,
/// a global variable...) Linux cannot supply. Running it would only show
/// the engine refusing what it cannot decide; guessing the argument would
/// be a guess. A cell with an expected verdict always runs.
fn unsuppliable(expected: Option<Verdict>, decoder: &Prediction) -> Option<String> {
    match (expected, decoder.verdict) {
        (None, None) => Some(format!(
            "the verdict depends on an argument Linux cannot supply ({})",
            decoder.rule.trim_start_matches(";; ")
        )),
        _ => None,
    }
}

/// The target state a create or unlink probe needs, restored afterwards:
/// create needs it absent, unlink needs it present (a symlink fixture is
/// unlinked as it is, and put back if a wrong allow removed it). The matrix
/// guarantees these targets belong to one cell alone.
struct Scratch {
    path: Option<PathBuf>,
    relink: Option<(PathBuf, PathBuf)>,
}

impl Scratch {
    fn prepare(probe: &Probe) -> std::io::Result<Scratch> {
        let path = PathBuf::from(&probe.target);
        match probe.kind {
            ProbeKind::Create => {
                remove_if_present(&path)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            ProbeKind::Unlink => {
                if let Ok(to) = std::fs::read_link(&path) {
                    return Ok(Scratch {
                        path: None,
                        relink: Some((path, to)),
                    });
                }
                crate::report::write_atomic(&path, b"sbcheck scratch\n")?
            }
            _ => {
                return Ok(Scratch {
                    path: None,
                    relink: None,
                })
            }
        }
        Ok(Scratch {
            path: Some(path),
            relink: None,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = remove_if_present(path);
        }
        if let Some((link, to)) = &self.relink {
            let _ = ensure_link(link, to);
        }
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Runs the probe in a child under `opts.backend`: the Linux engine (whose
/// supervisor records every judged call) or macOS's `sandbox_apply` (the
/// kernel's answer only: no intercepts).
fn observe(profile: &Profile, probe: &Probe, opts: &RunOptions) -> (Observed, Vec<Intercept>) {
    let config = crate::apply::Config {
        backend: Some(opts.backend),
        macos_paths: opts.macos_paths,
        record: true,
        ..crate::apply::Config::default()
    };
    let mut enforcement = match crate::apply::apply(profile, &config) {
        Ok(e) => e,
        Err(e) => return (Observed::ApplyFailed(e.to_string()), Vec::new()),
    };
    let body = || probe.run();
    let ending = enforcement.run(opts.timeout, &body);
    let intercepts = enforcement
        .supervisor()
        .map(|s| s.intercepts.clone())
        .unwrap_or_default();
    (observed_of(probe, ending, &intercepts, opts), intercepts)
}

/// What a child's ending says the probe observed.
fn observed_of(
    probe: &Probe,
    ending: Result<Ending, crate::apply::ApplyError>,
    intercepts: &[Intercept],
    opts: &RunOptions,
) -> Observed {
    match ending {
        Ok(Ending::Reported { result }) => Observed::Errno(result),
        // A successful exec replaces the child, which then cannot report:
        // the supervisor's allowed execve is the evidence, or (under
        // Seatbelt, which records nothing) the fixture program's clean exit.
        Ok(Ending::Died { status })
            if probe.kind.replaces_process()
                && (exec_allowed(intercepts) || status == ExitStatus::Code(0)) =>
        {
            Observed::Errno(0)
        }
        Ok(Ending::Died { status }) => Observed::Died(status.to_string()),
        Ok(Ending::TimedOut) => Observed::TimedOut(opts.timeout),
        Ok(Ending::SetupFailed(e)) | Err(e) => Observed::ApplyFailed(e.to_string()),
    }
}

fn exec_allowed(intercepts: &[Intercept]) -> bool {
    intercepts
        .iter()
        .any(|i| i.syscall.starts_with("execve") && i.verdict == Verdict::Allow)
}

/// A cell whose hand-written expectation, or recorded prediction, disagrees
/// with what the decoder predicts now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub profile: String,
    pub probe: String,
    /// `matrix paths` or `macOS paths`.
    pub layout: &'static str,
    pub what: String,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}::{} ({}): {}",
            self.profile, self.probe, self.layout, self.what
        )
    }
}

/// The decoder's prediction for every cell, without running anything, in
/// both path layouts: `(profile, probe, prediction as the matrix lays paths
/// out, prediction in macOS's layout)`.
pub fn predict_matrix(
    matrix: &Matrix,
    root: &Path,
) -> Result<Vec<(String, String, Prediction, Prediction)>, CellError> {
    // Network predictions do not depend on the peer's address.
    let peer = Some(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        9,
    ));
    // Vnode types are read from the files, so the fixtures must exist.
    ensure_fixtures(matrix).map_err(|e| CellError::Probe(format!("creating fixtures: {e}")))?;
    let mut out = Vec::new();
    for spec in &matrix.profiles {
        let loaded = match load_profile(root, &spec.source, &spec.params) {
            // Nothing to predict from: its recorded predictions stay.
            Err(CellError::Unavailable(_)) => continue,
            l => l?,
        };
        for p in &spec.probes {
            let probe = Probe::new(&p.operation, &p.target, false, peer)
                .map_err(|e| CellError::Probe(e.0))?;
            let plain = predict(&loaded.profile, &probe, false);
            let macos = predict(&loaded.profile, &probe, true);
            out.push((spec.name.clone(), p.name.clone(), plain, macos));
        }
    }
    Ok(out)
}

/// The static check behind `sbcheck expect`: every expectation against the
/// decoder, and every recorded prediction against today's.
pub fn static_check(matrix: &Matrix, root: &Path) -> Result<Vec<Disagreement>, CellError> {
    let mut out = Vec::new();
    for (profile, probe, plain, macos) in predict_matrix(matrix, root)? {
        let Some(spec) = matrix.profile(&profile).and_then(|s| s.probe(&probe)) else {
            continue;
        };
        let mut flag = |layout, what: String| {
            out.push(Disagreement {
                profile: profile.clone(),
                probe: probe.clone(),
                layout,
                what,
            })
        };
        for (layout, prediction, expected) in [
            ("matrix paths", &plain, spec.expected_for(false)),
            ("macOS paths", &macos, spec.expected_for(true)),
        ] {
            let got = prediction.verdict.map_or("undetermined", |v| v.as_str());
            if got != expected {
                flag(
                    layout,
                    format!(
                        "expected {expected}, decoder predicts {got} by {}",
                        prediction.rule
                    ),
                );
            }
        }
        if let Some(rec) = &spec.recorded {
            let now = plain.verdict.map_or("undetermined", |v| v.as_str());
            if rec.bucket != u64::from(plain.bucket) || rec.verdict != now {
                flag(
                    "matrix paths",
                    format!(
                        "recorded decoder prediction bucket {} {}, now bucket {} {now}",
                        rec.bucket, rec.verdict, plain.bucket
                    ),
                );
            }
        }
    }
    Ok(out)
}
