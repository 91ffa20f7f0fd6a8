//! `sbcheck run`: the main job. Runs every cell of the matrix (or of the
//! named profiles), writes each trace as its cell finishes, then
//! `runtime_results.json`, `mismatches.json` and the table.

use super::{MatrixArgs, ProfileInput, Usage};
use crate::apply::Backend;
use crate::harness::{
    isolate, load_profile_with, run_profile, unrunnable, CellError, CellRecord, LoadedProfile,
    Observed, RunOptions,
};
use crate::matrix::{ProbeSpec, ProfileSpec};
use crate::report;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// One cell to run: everything prepared before the workers start.
struct Job<'m> {
    spec: &'m ProfileSpec,
    probe: &'m ProbeSpec,
    loaded: &'m LoadedProfile,
    owned: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run only this profile of the matrix; repeatable.
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub input: ProfileInput,
    /// Where traces and results go (default: out/ in the project).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// linux (seccomp engine) or seatbelt (macOS's kernel); default: this platform's.
    #[arg(long, value_name = "B", value_parser = super::backend)]
    pub backend: Option<Backend>,
    /// Threads running cells (default: one a CPU).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    /// Kill a probe after this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,
    /// Run every N-th cell from the K-th: one shard of N (see sbcheck merge).
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// Match paths as macOS's kernel does: /tmp/x as /private/tmp/x, and a
    /// /private/{tmp,var,etc} path also without /private (docs/matrix.md).
    #[arg(long)]
    pub macos_paths: bool,
    /// Fork every cell from sbcheck itself, not from a per-profile zygote.
    #[arg(long)]
    pub no_zygote: bool,
}

pub fn main(a: &RunArgs) -> Result<ExitCode, Usage> {
    let (root, matrix_path, matrix) = a.matrix.load()?;
    let out = a.out.clone().unwrap_or_else(|| root.join("out"));
    let backend = a.backend.unwrap_or_else(Backend::native);
    check_backend(backend)?;
    let jobs = match a.jobs {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut opts = RunOptions::new(&root);
    opts.macos_paths = a.macos_paths;
    if a.no_zygote {
        opts.zygote = false;
    }
    opts.backend = backend;
    if let Some(ms) = a.timeout {
        opts.timeout = Duration::from_millis(ms);
    }

    let only = &a.profiles;
    if let Some(name) = only.iter().find(|n| matrix.profile(n).is_none()) {
        return Err(Usage(format!(
            "no profile {name} in {}",
            matrix_path.display()
        )));
    }
    // Ctrl-C stops between cells: the finished ones are still written.
    let _ = crate::apply::sys::catch_interrupts();
    report::remove_stale_temps(&out);

    let search = a.input.search();
    let selected: Vec<&ProfileSpec> = matrix
        .profiles
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.name))
        .collect();
    let mut failed = false;
    let mut loaded: Vec<(&ProfileSpec, LoadedProfile)> = Vec::new();
    let mut broken: Vec<CellRecord> = Vec::new();
    for spec in selected {
        // The command line's --param values win over the matrix's.
        let mut params = spec.params.clone();
        params.retain(|(k, _)| !a.input.params.iter().any(|(key, _)| key == k));
        params.extend(a.input.params.iter().cloned());
        match load_profile_with(&root, &spec.source, &params, &search) {
            Ok(l) => loaded.push((spec, l)),
            Err(e) => {
                let unavailable = matches!(e, CellError::Unavailable(_));
                if unavailable {
                    eprintln!("sbcheck: {}: skipped: {e}", spec.name);
                } else {
                    eprintln!("sbcheck: {}: {}: {e}", spec.file.display(), spec.name);
                    failed = true;
                }
                // Every cell of a broken or absent profile still gets its
                // record and trace.
                for probe in &spec.probes {
                    let observed = match &e {
                        CellError::Unavailable(why) => Observed::Skipped(why.clone()),
                        e => Observed::ProfileError(e.to_string()),
                    };
                    let r = unrunnable(spec, probe, observed, &opts);
                    if let Err(e) = report::write_trace(&out, &r) {
                        eprintln!("sbcheck: writing trace: {e}");
                    }
                    broken.push(r);
                }
            }
        }
    }
    // Profiles are read from the host first (a source may sit in its /tmp);
    // from here on /tmp and /private are the run's own.
    isolate(&matrix, &[&root, &out, &matrix_dir(&matrix_path)])
        .map_err(|e| Usage(e.to_string()))?;
    let (shard, shards) = partition(a.partition.clone())?;
    let work: Vec<Job<'_>> = loaded
        .iter()
        .flat_map(|(spec, l)| {
            spec.probes.iter().map(|probe| Job {
                spec,
                probe,
                loaded: l,
                owned: matrix.fixtures.files.contains(&probe.target),
            })
        })
        .enumerate()
        .filter(|(i, _)| i % shards == shard)
        .map(|(_, job)| job)
        .collect();

    let (mut records, errors) = run_jobs(&work, &opts, &out, jobs);
    let interrupted = crate::apply::sys::interrupted();
    records.extend(broken);
    failed |= errors > 0;
    write_results(&out, &records)?;
    crate::html::write_run_report(&out, &report::results_json(&records))
        .map_err(|e| Usage(e.to_string()))?;
    super::out(&report::table(&records, super::colour()));
    super::out(&report::bucket_summary(&records));
    let mismatches = records
        .iter()
        .filter(|r| !r.matches() && !r.skipped())
        .count();
    let skipped = records.iter().filter(|r| r.skipped()).count();
    crate::outln!(
        "{} cells: {} match, {} mismatch, {} skipped (backend {}{}); traces in {}",
        records.len(),
        records.len() - mismatches - skipped,
        mismatches,
        skipped,
        backend.name(),
        if opts.macos_paths {
            ", macOS paths"
        } else {
            ""
        },
        out.join("traces").display()
    );
    if interrupted {
        eprintln!(
            "sbcheck: interrupted: {} of {} cells ran; their results are written",
            records.len(),
            work.len()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if mismatches > 0 || failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The directory a `--matrix` path names (a one-file matrix: its directory).
pub fn matrix_dir(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_owned()
    } else {
        path.to_owned()
    }
}

/// `--partition K/N`: this run takes every cell whose index is K-1 modulo N
/// (the same split on every machine, so N shards cover the matrix once).
fn partition(arg: Option<String>) -> Result<(usize, usize), Usage> {
    let Some(arg) = arg else { return Ok((0, 1)) };
    let bad = || {
        Usage(format!(
            "--partition takes K/N with 1 <= K <= N, got {arg:?}"
        ))
    };
    let (k, n) = arg.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k - 1, n))
}

/// Most cells one zygote serves: a profile with more is split, so the
/// threads share its cells (a zygote costs about one per-cell fork).
const ZYGOTE_CELLS: usize = 32;

/// Consecutive jobs of one profile, at most [`ZYGOTE_CELLS`]: the ranges
/// of `work` a thread runs with one zygote.
fn units(work: &[Job<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, job) in work.iter().enumerate() {
        match out.last_mut() {
            Some(r) if r.len() < ZYGOTE_CELLS && std::ptr::eq(work[r.start].loaded, job.loaded) => {
                r.end = i + 1
            }
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Runs the jobs on `jobs` threads, a profile's cells together (one
/// zygote each, see [`run_profile`]); each trace is written the moment its
/// cell finishes, so an interrupted run keeps every finished cell.
fn run_jobs(
    work: &[Job<'_>],
    opts: &RunOptions,
    out: &Path,
    jobs: usize,
) -> (Vec<CellRecord>, usize) {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<CellRecord>>> = Mutex::new((0..work.len()).map(|_| None).collect());
    let progress = std::io::stderr().is_terminal() && work.len() > 20;
    let units = units(work);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(units.len()).max(1) {
            s.spawn(|| loop {
                if crate::apply::sys::interrupted() {
                    break;
                }
                let u = next.fetch_add(1, Ordering::Relaxed);
                let Some(unit) = units.get(u) else { break };
                let first = &work[unit.start];
                let cells: Vec<_> = work[unit.clone()]
                    .iter()
                    .map(|j| (j.probe, j.owned))
                    .collect();
                let mut finished = |k: usize, result| {
                    let i = unit.start + k;
                    let job = &work[i];
                    match result {
                        Ok(record) => {
                            if let Err(e) = report::write_trace(out, &record) {
                                eprintln!(
                                    "sbcheck: writing trace for {}::{}: {e}",
                                    record.profile, record.probe
                                );
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Ok(mut slots) = slots.lock() {
                                slots[i] = Some(record);
                            }
                        }
                        Err(e) => {
                            eprintln!(
                                "sbcheck: {}: {}::{}: {e}",
                                job.spec.file.display(),
                                job.spec.name,
                                job.probe.name
                            );
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if progress {
                        let _ = write!(
                            std::io::stderr(),
                            "\r[{n}/{}] {}::{}\x1b[K",
                            work.len(),
                            job.spec.name,
                            job.probe.name
                        );
                    }
                };
                run_profile(first.spec, &cells, first.loaded, opts, &mut finished);
            });
        }
    });
    if progress {
        let _ = writeln!(std::io::stderr(), "\r\x1b[K");
    }
    let records = slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    (records, errors.into_inner())
}

fn write_results(out: &Path, records: &[CellRecord]) -> Result<(), Usage> {
    let write = |name: &str, value: serde_json::Value| {
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        report::write_atomic(&out.join(name), text.as_bytes())
            .map_err(|e| Usage(format!("writing {name}: {e}")))
    };
    write("runtime_results.json", report::results_json(records))?;
    write("mismatches.json", report::mismatches_json(records))?;
    report::write_atomic(&out.join("matrix.md"), report::markdown(records).as_bytes())
        .map_err(|e| Usage(format!("writing matrix.md: {e}")))
}

/// Refuses, before anything runs, a backend this platform does not have:
/// Seatbelt is macOS's kernel (libsandbox), the engine needs Linux.
pub fn check_backend(backend: Backend) -> Result<(), Usage> {
    match backend {
        Backend::Seatbelt if !cfg!(target_os = "macos") => Err(Usage(
            "--backend seatbelt needs macOS (libsandbox's sandbox_apply and Apple's kernel); \
             on Linux the matrix runs under --backend linux, the seccomp engine"
                .into(),
        )),
        Backend::Linux if !cfg!(target_os = "linux") => Err(Usage(
            "--backend linux needs Linux (seccomp user notification); on macOS use --backend seatbelt"
                .into(),
        )),
        _ => Ok(()),
    }
}
