//! Traces, results and the table: what a run leaves behind.
//!
//! Every file is written atomically (a temporary file in the same directory,
//! then a rename), so a reader never sees half a trace and two runs at once
//! never interleave their bytes.

use crate::apply::linux::Intercept;
use crate::harness::{CellRecord, Observed, PathNode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Version of the trace and results JSON schema (see out/README.md).
pub const SCHEMA: u32 = 1;

/// A trace: one cell's record (`out/traces/PROFILE/PROBE.json`), and an
/// element of `cells` in `runtime_results.json`. Documented in out/README.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub schema: u32,
    pub profile: String,
    pub probe: String,
    pub label: Option<String>,
    /// The bucket of the profile's `default` operation (op-table entry 0):
    /// where an operation with no rule of its own starts.
    pub profile_bucket: u16,
    pub expectation_id: Option<String>,
    pub operation: String,
    pub target: String,
    pub expected: String,
    pub decoder: DecoderTrace,
    pub observed: ObservedTrace,
    pub intercepts: Vec<InterceptTrace>,
    #[serde(rename = "match")]
    pub matched: bool,
    pub skip_reason: Option<String>,
    pub backend: String,
    pub macos_paths: bool,
    pub duration_us: u64,
}

/// The decoder's prediction for a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoderTrace {
    pub operation: String,
    /// The operation's bucket: its op-table entry, the node the walk starts at.
    pub bucket: u16,
    pub node_path: Vec<u16>,
    pub verdict: Option<String>,
    pub rule: String,
    /// Absent in traces written before it existed.
    #[serde(default)]
    pub nodes: Vec<NodeTrace>,
}

/// A node of the decision walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTrace {
    pub index: u16,
    /// `filter` or `terminal`.
    pub kind: String,
    pub sbpl: Option<String>,
    #[serde(rename = "match")]
    pub match_edge: Option<u16>,
    #[serde(rename = "unmatch")]
    pub unmatch_edge: Option<u16>,
    /// `match` or `unmatch` (filters).
    pub taken: Option<String>,
    /// A terminal's verdict.
    pub verdict: Option<String>,
}

/// What the kernel did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedTrace {
    /// `ran`, `timeout`, `died`, `apply-failed`, `skipped` or `profile-error`.
    pub kind: String,
    pub errno: Option<i32>,
    pub errno_name: Option<String>,
    pub verdict: Option<String>,
    pub detail: Option<String>,
}

/// A syscall the supervisor judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterceptTrace {
    pub syscall: String,
    pub requested: String,
    pub resolved: String,
    pub operations: Vec<OperationTrace>,
    pub verdict: String,
    pub errno: i32,
    pub log: Option<String>,
    pub rule: String,
}

/// One operation a syscall was judged as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationTrace {
    pub operation: Option<String>,
    pub bucket: u16,
    pub node_path: Vec<u16>,
    pub verdict: Option<String>,
}

/// `out/runtime_results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    pub schema: u32,
    pub backend: Option<String>,
    pub summary: Summary,
    /// Cells grouped by their profile's default bucket.
    #[serde(default)]
    pub buckets: Vec<BucketSummary>,
    pub cells: Vec<Trace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub cells: usize,
    #[serde(rename = "match")]
    pub matched: usize,
    pub skipped: usize,
    pub mismatch: usize,
}

/// The cells of the profiles whose `default` starts at one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSummary {
    /// `bucket N`: N is the default operation's bucket.
    pub bucket: String,
    pub cells: usize,
    #[serde(rename = "match")]
    pub matched: usize,
    pub mismatch: usize,
    pub skipped: usize,
}

/// `out/mismatches.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mismatches {
    pub schema: u32,
    pub mismatches: usize,
    pub cells: Vec<Trace>,
}

fn intercept_trace(i: &Intercept) -> InterceptTrace {
    InterceptTrace {
        syscall: i.syscall.to_owned(),
        requested: i.requested.clone(),
        resolved: i.resolved.clone(),
        operations: i
            .decisions
            .iter()
            .map(|d| OperationTrace {
                operation: crate::vocab::Vocab::macos_14()
                    .op_name(d.operation)
                    .map(str::to_owned),
                bucket: d.bucket,
                node_path: d.node_path(),
                verdict: d.verdict().map(|v| v.as_str().to_owned()),
            })
            .collect(),
        verdict: i.verdict.as_str().to_owned(),
        errno: i.errno,
        log: i.log.clone(),
        rule: i.rule.clone(),
    }
}

fn observed_trace(o: &Observed) -> ObservedTrace {
    let (kind, errno, detail) = match o {
        Observed::Errno(e) => ("ran", Some(*e), None),
        Observed::TimedOut(_) => ("timeout", None, Some(o.describe())),
        Observed::Died(why) => ("died", None, Some(why.clone())),
        Observed::ApplyFailed(why) => ("apply-failed", None, Some(why.clone())),
        Observed::Skipped(why) => ("skipped", None, Some(why.clone())),
        Observed::ProfileError(why) => ("profile-error", None, Some(why.clone())),
    };
    ObservedTrace {
        kind: kind.to_owned(),
        errno,
        errno_name: errno.map(errno_name),
        verdict: o.verdict().map(|v| v.as_str().to_owned()),
        detail,
    }
}

fn node_trace(n: &PathNode) -> NodeTrace {
    match n {
        PathNode::Filter {
            index,
            sbpl,
            matched,
            unmatched,
            took_match,
        } => NodeTrace {
            index: *index,
            kind: "filter".into(),
            sbpl: Some(sbpl.clone()),
            match_edge: Some(*matched),
            unmatch_edge: Some(*unmatched),
            taken: Some(if *took_match { "match" } else { "unmatch" }.into()),
            verdict: None,
        },
        PathNode::Terminal { index, verdict } => NodeTrace {
            index: *index,
            kind: "terminal".into(),
            sbpl: None,
            match_edge: None,
            unmatch_edge: None,
            taken: None,
            verdict: Some(verdict.as_str().to_owned()),
        },
    }
}

/// A record as its trace.
pub fn trace(r: &CellRecord) -> Trace {
    Trace {
        schema: SCHEMA,
        profile: r.profile.clone(),
        probe: r.probe.clone(),
        label: r.label.clone(),
        profile_bucket: r.profile_bucket,
        expectation_id: r.expectation_id.clone(),
        operation: r.operation.clone(),
        target: r.target.clone(),
        expected: r.expected_str().to_owned(),
        decoder: DecoderTrace {
            operation: r.decoder.operation.clone(),
            bucket: r.decoder.bucket,
            node_path: r.decoder.node_path.clone(),
            verdict: r.decoder.verdict.map(|v| v.as_str().to_owned()),
            rule: r.decoder.rule.clone(),
            nodes: r.decoder.nodes.iter().map(node_trace).collect(),
        },
        observed: observed_trace(&r.observed),
        intercepts: r.intercepts.iter().map(intercept_trace).collect(),
        matched: r.matches(),
        skip_reason: match &r.observed {
            Observed::Skipped(why) => Some(why.clone()),
            _ => None,
        },
        backend: r.backend.name().to_owned(),
        macos_paths: r.macos_paths,
        duration_us: r.duration.as_micros() as u64,
    }
}

fn to_value<T: Serialize>(t: &T) -> Value {
    // Plain structs of strings and numbers: serialising cannot fail.
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// A record as JSON: the trace schema.
pub fn record_json(r: &CellRecord) -> Value {
    to_value(&trace(r))
}

pub fn errno_name(e: i32) -> String {
    match e {
        0 => "OK".into(),
        libc::EPERM => "EPERM".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        libc::EFAULT => "EFAULT".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::EISDIR => "EISDIR".into(),
        libc::ENOTDIR => "ENOTDIR".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::ECONNREFUSED => "ECONNREFUSED".into(),
        e => format!("errno {e}"),
    }
}

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    // No fsync: rename is atomic for readers and for a killed run; only a
    // power cut could lose a trace, and a rerun rewrites it.
    drop(f);
    // Renaming over an existing file makes ext4 (auto_da_alloc) start
    // writing the new data back at once: ~100 us a trace, a fifth of a
    // cell. Exchanging the two names does not (~20 us), and a reader still
    // sees the old file or the new one, never neither; the old content
    // then goes under the temporary name. A first write (nothing to
    // exchange with), or anything but a file in the way, is a plain rename.
    let replaces_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    if replaces_file && crate::apply::sys::exchange(&tmp, path).is_ok() {
        let _ = std::fs::remove_file(&tmp);
        return Ok(());
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Removes the temporary files of [`write_atomic`] that a killed run left in
/// `out` and `out/traces/*/` (named `.NAME.PID.N.tmp`; those of a process
/// still alive are left alone: another run may be writing them).
pub fn remove_stale_temps(out: &Path) {
    if !cfg!(target_os = "linux") {
        // Liveness is read from /proc.
        return;
    }
    let mut dirs = vec![out.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(out.join("traces")) {
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_owner) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The pid in a temporary file's name `.NAME.PID.N.tmp`.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.rsplit('.');
    let _seq: u64 = parts.next()?.parse().ok()?;
    parts.next()?.parse().ok()
}

/// `out/traces/<profile>/<probe>.json`.
pub fn trace_path(out: &Path, r: &CellRecord) -> PathBuf {
    out.join("traces")
        .join(&r.profile)
        .join(format!("{}.json", r.probe))
}

pub fn write_trace(out: &Path, r: &CellRecord) -> std::io::Result<PathBuf> {
    let path = trace_path(out, r);
    let text = serde_json::to_string_pretty(&record_json(r)).unwrap_or_default();
    write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// `out/runtime_results.json`: every cell of a run and a summary.
pub fn results(records: &[CellRecord]) -> Results {
    let matched = records.iter().filter(|r| r.matches()).count();
    let skipped = records.iter().filter(|r| r.skipped()).count();
    Results {
        schema: SCHEMA,
        backend: records.first().map(|r| r.backend.name().to_owned()),
        summary: Summary {
            cells: records.len(),
            matched,
            skipped,
            mismatch: records.len() - matched - skipped,
        },
        buckets: buckets(records)
            .iter()
            .map(|b| BucketSummary {
                bucket: b.name.clone(),
                cells: b.cells,
                matched: b.matched,
                mismatch: b.mismatched,
                skipped: b.skipped,
            })
            .collect(),
        cells: records.iter().map(trace).collect(),
    }
}

pub fn results_json(records: &[CellRecord]) -> Value {
    to_value(&results(records))
}

/// `out/mismatches.json`: only the cells whose verdicts disagree.
pub fn mismatches_json(records: &[CellRecord]) -> Value {
    let bad: Vec<Trace> = records
        .iter()
        .filter(|r| !r.matches() && !r.skipped())
        .map(trace)
        .collect();
    to_value(&Mismatches {
        schema: SCHEMA,
        mismatches: bad.len(),
        cells: bad,
    })
}

/// Cells grouped by the bucket of their profile's `default` operation
/// (op-table entry 0: where an operation with no rule of its own starts;
/// the research plan's "bucket 4" / "bucket 5" profiles).
pub struct Bucket {
    pub name: String,
    pub number: u16,
    pub cells: usize,
    pub matched: usize,
    pub mismatched: usize,
    pub skipped: usize,
}

pub fn buckets(records: &[CellRecord]) -> Vec<Bucket> {
    group(
        records
            .iter()
            .map(|r| (r.profile_bucket, r.skipped(), r.matches())),
    )
}

/// [`buckets`] of cells read back from traces (`sbcheck merge`).
pub fn trace_buckets(cells: &[Trace]) -> Vec<BucketSummary> {
    let skipped = |c: &Trace| c.observed.kind == "skipped";
    group(
        cells
            .iter()
            .map(|c| (c.profile_bucket, skipped(c), c.matched)),
    )
    .into_iter()
    .map(|b| BucketSummary {
        bucket: b.name,
        cells: b.cells,
        matched: b.matched,
        mismatch: b.mismatched,
        skipped: b.skipped,
    })
    .collect()
}

/// Counts cells, given as `(default bucket, skipped, matched)`, per bucket.
fn group(cells: impl Iterator<Item = (u16, bool, bool)>) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for (profile_bucket, skipped, matched) in cells {
        let name = format!("bucket {profile_bucket}");
        let i = match out.iter().position(|b| b.name == name) {
            Some(i) => i,
            None => {
                out.push(Bucket {
                    name,
                    number: profile_bucket,
                    cells: 0,
                    matched: 0,
                    mismatched: 0,
                    skipped: 0,
                });
                out.len() - 1
            }
        };
        let b = &mut out[i];
        b.cells += 1;
        if skipped {
            b.skipped += 1;
        } else if matched {
            b.matched += 1;
        } else {
            b.mismatched += 1;
        }
    }
    out.sort_by_key(|b| b.number);
    out
}

/// One line per default bucket: `default in bucket 4: 3 cells, 3 match`
/// (the profiles whose `default` operation starts at bucket 4).
pub fn bucket_summary(records: &[CellRecord]) -> String {
    buckets(records)
        .iter()
        .map(|b| {
            let mut line = format!(
                "default in {}: {} cells, {} match",
                b.name, b.cells, b.matched
            );
            if b.mismatched > 0 {
                line += &format!(", {} MISMATCH", b.mismatched);
            }
            if b.skipped > 0 {
                line += &format!(", {} skipped", b.skipped);
            }
            line + "\n"
        })
        .collect()
}

fn verdict_cell(v: Option<crate::decision::Verdict>) -> &'static str {
    v.map_or("?", |v| v.as_str())
}

/// The run's table: profile, probe, bucket, expected, decoder, observed, match.
pub fn table(records: &[CellRecord], colour: bool) -> String {
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            let status = if r.skipped() {
                "skip"
            } else if r.matches() {
                "ok"
            } else {
                "MISMATCH"
            };
            [
                r.profile.clone(),
                r.probe.clone(),
                r.decoder.bucket.to_string(),
                r.expected_str().to_owned(),
                verdict_cell(r.decoder.verdict).to_owned(),
                match &r.observed {
                    // The reason is listed once under the table.
                    Observed::Skipped(_) => "skipped".to_owned(),
                    o => o.describe(),
                },
                status.to_owned(),
            ]
        })
        .collect();
    let header = [
        "profile", "probe", "bucket", "expected", "decoder", "observed", "match",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 7]| {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        cells.join("  ").trim_end().to_owned()
    };
    let mut out = line(&header) + "\n";
    for row in &rows {
        let text = line(row);
        let painted = match (colour, row[6].as_str()) {
            (true, "ok") => format!("\x1b[32m{text}\x1b[0m"),
            (true, "MISMATCH") => format!("\x1b[31;1m{text}\x1b[0m"),
            (true, _) => format!("\x1b[33m{text}\x1b[0m"),
            (false, _) => text,
        };
        out.push_str(&painted);
        out.push('\n');
    }
    let mut reasons: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.observed {
            Observed::Skipped(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    for why in reasons {
        out.push_str(&format!("skipped: {why}\n"));
    }
    out
}

/// The matrix as a Markdown table (`out/matrix.md`, pasted into the README).
pub fn markdown(records: &[CellRecord]) -> String {
    let mut out = String::from(
        "| profile | probe | operation | target | bucket | expected | decoder | observed |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in records {
        let observed = match &r.observed {
            Observed::Skipped(_) => "skipped".to_owned(),
            o => o.describe(),
        };
        let mark = if r.skipped() || r.matches() {
            ""
        } else {
            " **MISMATCH**"
        };
        out.push_str(&format!(
            "| {} | {} | {} | `{}` | {} | {} | {} | {}{} |\n",
            r.profile,
            r.probe,
            r.decoder.operation,
            r.target,
            r.decoder.bucket,
            r.expected_str(),
            verdict_cell(r.decoder.verdict),
            observed,
            mark
        ));
    }
    out
}
