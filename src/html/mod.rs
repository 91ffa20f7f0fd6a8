//! `out/report.html`: the matrix as a page people can look at.
//!
//! One self-contained file (inline CSS, JS and SVG; a Content-Security-Policy
//! that forbids every fetch), rendered from `runtime_results.json`:
//!
//! - the profile x probe grid, each cell a button coloured by outcome *and*
//!   marked with a symbol and a word (match allow, match deny, mismatch,
//!   skipped), so it reads without colour;
//! - a per-bucket summary (which op-table entries disagree);
//! - a detail panel per cell: expected, the decoder's decision with its node
//!   walk drawn as a graph, the deciding rule, the observed syscall, errno,
//!   denial log line, duration and backend.
//!
//! Keyboard: cells are buttons (Tab, Enter/Space opens the detail, arrow
//! keys move in the grid, Escape goes back). `#cell=profile/probe` opens a
//! cell on load. Without JavaScript every panel is simply shown below.
//!
//! Every string from the input goes through [`esc`].

mod graph;
pub mod model;

pub use model::{load, parse, Cell, ReportError, Run};

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The symbol that stands beside a verdict wherever colour marks it.
pub fn verdict_symbol(v: &str) -> &'static str {
    match v {
        "allow" => "✓",
        "deny" => "⊘",
        _ => "?",
    }
}

/// How a cell came out: the four colours of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    MatchAllow,
    MatchDeny,
    Mismatch,
    Skipped,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::MatchAllow,
        Outcome::MatchDeny,
        Outcome::Mismatch,
        Outcome::Skipped,
    ];

    pub fn of(c: &Cell) -> Outcome {
        if c.skipped() {
            Outcome::Skipped
        } else if !c.matched {
            Outcome::Mismatch
        } else if c.expected == "deny" {
            Outcome::MatchDeny
        } else {
            Outcome::MatchAllow
        }
    }

    /// The CSS class, also what tests look for.
    pub fn class(self) -> &'static str {
        match self {
            Outcome::MatchAllow => "o-allow",
            Outcome::MatchDeny => "o-deny",
            Outcome::Mismatch => "o-mismatch",
            Outcome::Skipped => "o-skipped",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Outcome::MatchAllow => "✓",
            Outcome::MatchDeny => "⊘",
            Outcome::Mismatch => "✗",
            Outcome::Skipped => "○",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Outcome::MatchAllow => "allow",
            Outcome::MatchDeny => "deny",
            Outcome::Mismatch => "mismatch",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Outcome::MatchAllow => "match: expected, decoder and kernel all allow",
            Outcome::MatchDeny => "match: expected, decoder and kernel all deny",
            Outcome::Mismatch => "mismatch: expected, decoder and kernel disagree",
            Outcome::Skipped => "skipped: not run on this platform",
        }
    }

    fn badge(self) -> String {
        format!(
            "<span class=\"badge {}\"><span class=\"sym\" aria-hidden=\"true\">{}</span> {}</span>",
            self.class(),
            self.symbol(),
            self.word()
        )
    }
}

/// A grid position: the cell as it is (and, in a diff, as it was).
struct Entry<'a> {
    profile: &'a str,
    probe: &'a str,
    before: Option<&'a Cell>,
    after: Option<&'a Cell>,
}

impl Entry<'_> {
    fn id(&self) -> String {
        format!("{}/{}", self.profile, self.probe)
    }

    fn changed(&self) -> bool {
        match (self.before, self.after) {
            (Some(a), Some(b)) => Outcome::of(a) != Outcome::of(b),
            _ => true,
        }
    }
}

/// Single run, or the difference between two.
enum Mode<'a> {
    Single(&'a Run),
    Diff(&'a Run, &'a Run),
}

/// The page for one run.
pub fn render(run: &Run) -> String {
    let entries = run
        .cells
        .iter()
        .map(|c| Entry {
            profile: &c.profile,
            probe: &c.probe,
            before: None,
            after: Some(c),
        })
        .collect();
    page(&Mode::Single(run), entries)
}

/// The page for the difference between run `a` (before) and run `b`.
pub fn render_diff(a: &Run, b: &Run) -> String {
    let mut entries: Vec<Entry> = Vec::new();
    for c in &a.cells {
        entries.push(Entry {
            profile: &c.profile,
            probe: &c.probe,
            before: Some(c),
            after: b.cells.iter().find(|d| d.id() == c.id()),
        });
    }
    for c in b
        .cells
        .iter()
        .filter(|c| !a.cells.iter().any(|d| d.id() == c.id()))
    {
        entries.push(Entry {
            profile: &c.profile,
            probe: &c.probe,
            before: None,
            after: Some(c),
        });
    }
    page(&Mode::Diff(a, b), entries)
}

/// Renders `results` (the value written to `out/runtime_results.json`) to
/// `out/report.html`, atomically. Returns the path written.
pub fn write_run_report(out: &Path, results: &serde_json::Value) -> Result<PathBuf, ReportError> {
    let source = out.join("runtime_results.json");
    let run = parse(results, &source)?;
    let path = out.join("report.html");
    crate::report::write_atomic(&path, render(&run).as_bytes()).map_err(|e| ReportError {
        file: path.clone(),
        key: "(file)".into(),
        message: e.to_string(),
    })?;
    Ok(path)
}

fn page(mode: &Mode, entries: Vec<Entry>) -> String {
    let title = match mode {
        Mode::Single(_) => "sbcheck matrix report".to_owned(),
        Mode::Diff(..) => "sbcheck matrix report: difference".to_owned(),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{CSS}</style></head><body>\
         <a class=\"skip\" href=\"#grid\">Skip to the grid</a>{defs}\
         <header><h1>{title}</h1>{sources}</header><main><div class=\"layout\">\
         <div class=\"overview\">{summary}{legend}{grid}{buckets}</div>\
         <div class=\"details\" id=\"details\"><p id=\"detail-hint\" class=\"hint\">\
         Select a cell (click it, or Tab to it and press Enter) to see why it came out \
         as it did.</p>{details}</div></div></main><script>{JS}</script></body></html>\n",
        defs = graph::DEFS,
        sources = sources(mode),
        summary = summary(mode, &entries),
        legend = legend(mode),
        grid = grid(mode, &entries),
        buckets = buckets(mode, &entries),
        details = entries.iter().map(|e| detail(mode, e)).collect::<String>(),
    );
    s
}

fn sources(mode: &Mode) -> String {
    let line = |what: &str, run: &Run| {
        format!(
            "<p class=\"source\">{what}<code>{}</code>, backend <code>{}</code></p>",
            esc(&run.source),
            esc(run.backend.as_deref().unwrap_or("unknown"))
        )
    };
    match mode {
        Mode::Single(run) => line("From ", run),
        Mode::Diff(a, b) => line("A (before): ", a) + &line("B (after): ", b),
    }
}

fn counts<'a>(cells: impl Iterator<Item = &'a Cell>) -> BTreeMap<Outcome, usize> {
    let mut n: BTreeMap<Outcome, usize> = Outcome::ALL.iter().map(|o| (*o, 0)).collect();
    for c in cells {
        *n.entry(Outcome::of(c)).or_default() += 1;
    }
    n
}

fn summary(mode: &Mode, entries: &[Entry]) -> String {
    let row = |name: &str, run: &Run| {
        let n = counts(run.cells.iter());
        let tds: String = Outcome::ALL
            .iter()
            .map(|o| format!("<td class=\"num\">{}</td>", n[o]))
            .collect();
        format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td>{tds}</tr>",
            esc(name),
            run.cells.len()
        )
    };
    let head: String = Outcome::ALL
        .iter()
        .map(|o| {
            format!(
                "<th scope=\"col\" class=\"{}\"><span aria-hidden=\"true\">{}</span> {}</th>",
                o.class(),
                o.symbol(),
                o.word()
            )
        })
        .collect();
    let (rows, extra) = match mode {
        Mode::Single(run) => (row("this run", run), String::new()),
        Mode::Diff(a, b) => {
            let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count();
            let changed = count(|e| e.before.is_some() && e.after.is_some() && e.changed());
            let only_a = count(|e| e.after.is_none());
            let only_b = count(|e| e.before.is_none());
            (
                row("A (before)", a) + &row("B (after)", b),
                format!(
                    "<p class=\"changed-count\"><span aria-hidden=\"true\">Δ</span> \
                     {changed} cell(s) changed outcome between A and B; \
                     {only_a} only in A, {only_b} only in B.</p>"
                ),
            )
        }
    };
    format!(
        "<section aria-labelledby=\"h-summary\"><h2 id=\"h-summary\">Summary</h2>\
         <table class=\"summary\"><thead><tr><th scope=\"col\">run</th>\
         <th scope=\"col\">cells</th>{head}</tr></thead><tbody>{rows}</tbody></table>\
         {extra}</section>"
    )
}

fn legend(mode: &Mode) -> String {
    let mut items: String = Outcome::ALL
        .iter()
        .map(|o| {
            format!(
                "<li><span class=\"swatch {}\" aria-hidden=\"true\">{}</span> {}</li>",
                o.class(),
                o.symbol(),
                esc(o.meaning())
            )
        })
        .collect();
    if let Mode::Diff(..) = mode {
        items.push_str(
            "<li><span class=\"swatch changed\" aria-hidden=\"true\">Δ</span> \
             outcome changed from A to B (the cell shows B)</li>",
        );
    }
    format!("<ul class=\"legend\" aria-label=\"Legend\">{items}</ul>")
}

/// First-seen order, no repeats.
fn ordered<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// One row per profile, its cells side by side in matrix order: the probe
/// names differ between profiles, so a column per distinct probe name
/// would leave the grid mostly empty.
fn grid(mode: &Mode, entries: &[Entry]) -> String {
    let rows: Vec<(&str, Vec<&Entry>)> = ordered(entries.iter().map(|e| e.profile))
        .into_iter()
        .map(|p| (p, entries.iter().filter(|e| e.profile == p).collect()))
        .collect();
    let width = rows.iter().map(|(_, es)| es.len()).max().unwrap_or(0);
    let mut body = String::new();
    for (r, (profile, es)) in rows.iter().enumerate() {
        let tag = es
            .iter()
            .find_map(|e| e.after.or(e.before))
            .map(|c| bucket_key(c).1)
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><th scope=\"row\"><code>{}</code><span class=\"tag\">{}</span></th>",
            esc(profile),
            esc(&tag)
        );
        for (c, e) in es.iter().enumerate() {
            body.push_str(&grid_cell(mode, e, r, c));
        }
        for _ in es.len()..width {
            body.push_str("<td class=\"empty\"></td>");
        }
        body.push_str("</tr>");
    }
    format!(
        "<section aria-labelledby=\"h-grid\"><h2 id=\"h-grid\">Profile × probe</h2>\
         <p class=\"note\">One row per profile; each button is a probe. Arrow keys move \
         between cells, Enter or Space opens one.</p>\
         <div class=\"scroll\"><table class=\"grid\" id=\"grid\"><thead><tr>\
         <th scope=\"col\">profile</th><th scope=\"colgroup\" colspan=\"{width}\">probes</th>\
         </tr></thead><tbody>{body}</tbody></table></div></section>"
    )
}

fn grid_cell(mode: &Mode, e: &Entry, row: usize, col: usize) -> String {
    let id = e.id();
    let shown = e.after.or(e.before).map(Outcome::of);
    let outcome = shown.unwrap_or(Outcome::Skipped);
    let mut classes = vec!["cell", outcome.class()];
    let mut inner = format!(
        "<span class=\"probe\">{}</span><span class=\"sym\" aria-hidden=\"true\">{}</span> \
         <span class=\"word\">{}</span>",
        esc(e.probe),
        outcome.symbol(),
        outcome.word()
    );
    let mut label = format!("{} / {}: {}", e.profile, e.probe, outcome.meaning());
    if let Some(c) = e.after.filter(|c| Outcome::of(c) == Outcome::Mismatch) {
        let _ = write!(inner, "<span class=\"why\">{}</span>", esc(&verdicts(c)));
    }
    if let Mode::Diff(..) = mode {
        if e.changed() {
            classes.push("changed");
            let was = match (e.before, e.after) {
                (Some(b), Some(_)) => {
                    let o = Outcome::of(b);
                    format!("was {} {}", o.symbol(), o.word())
                }
                (Some(_), None) => "only in A".to_owned(),
                _ => "only in B".to_owned(),
            };
            let _ = write!(
                inner,
                "<span class=\"delta\"><span aria-hidden=\"true\">Δ</span> {was}</span>"
            );
            let _ = write!(label, "; changed: {was}");
        }
    }
    let probe = e
        .after
        .or(e.before)
        .map(|c| format!("{} {}", c.operation, c.target))
        .unwrap_or_default();
    format!(
        "<td><button type=\"button\" class=\"{classes}\" data-cell=\"{id}\" data-row=\"{row}\" \
         data-col=\"{col}\" aria-controls=\"detail-{id}\" aria-label=\"{label}\" \
         title=\"{probe}\">{inner}</button></td>",
        classes = classes.join(" "),
        id = esc(&id),
        label = esc(&label),
        probe = esc(&probe),
    )
}

/// `expected allow · decoder deny · observed deny`.
fn verdicts(c: &Cell) -> String {
    format!(
        "expected {} · decoder {} · observed {}",
        c.expected,
        c.decoder.verdict.as_deref().unwrap_or("?"),
        observed_short(c)
    )
}

fn observed_short(c: &Cell) -> String {
    match (&c.observed.verdict, &c.observed.errno_name) {
        (Some(v), _) => v.clone(),
        (None, Some(name)) => name.clone(),
        (None, None) => c.observed.kind.clone(),
    }
}

/// A bucket's number, when known, and its name.
type BucketKey = (Option<u64>, String);

/// The bucket a cell's profile belongs to: its `profile_bucket` (the node
/// `default` points at), or, in runs from before that field, its label.
fn bucket_key(c: &Cell) -> BucketKey {
    match c.profile_bucket {
        Some(n) => (Some(n), format!("bucket {n}")),
        None => (None, c.label.clone().unwrap_or_else(|| c.profile.clone())),
    }
}

fn buckets(mode: &Mode, entries: &[Entry]) -> String {
    let mut groups: Vec<(BucketKey, Vec<&Entry>)> = Vec::new();
    for e in entries {
        let Some(c) = e.after.or(e.before) else {
            continue;
        };
        let key = bucket_key(c);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(e),
            None => groups.push((key, vec![e])),
        }
    }
    // Numbered buckets in order, then the others as first seen.
    groups.sort_by_key(|((n, _), _)| (n.is_none(), *n));
    let diff = matches!(mode, Mode::Diff(..));
    let rows: String = groups
        .iter()
        .map(|((_, name), es)| bucket_row(name, es, diff))
        .collect();
    let head: String = Outcome::ALL
        .iter()
        .map(|o| {
            format!(
                "<th scope=\"col\" class=\"{}\"><span aria-hidden=\"true\">{}</span> {}</th>",
                o.class(),
                o.symbol(),
                o.word()
            )
        })
        .collect();
    format!(
        "<section aria-labelledby=\"h-buckets\"><h2 id=\"h-buckets\">Per bucket</h2>\
         <p class=\"note\">A profile's bucket is the node its <code>default</code> op-table \
         entry points at (the research plan's \"bucket 4\", \"bucket 5\").{}</p>\
         <div class=\"scroll\"><table class=\"buckets\"><thead><tr>\
         <th scope=\"col\">bucket</th><th scope=\"col\">profiles</th>\
         <th scope=\"col\">cells</th>{head}{}<th scope=\"col\">agrees</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></section>",
        if diff { " Counts are B's." } else { "" },
        if diff {
            "<th scope=\"col\">Δ changed</th>"
        } else {
            ""
        },
    )
}

fn bucket_row(name: &str, es: &[&Entry], diff: bool) -> String {
    let cells: Vec<&Cell> = es.iter().filter_map(|e| e.after).collect();
    let n = counts(cells.iter().copied());
    let tds: String = Outcome::ALL
        .iter()
        .map(|o| format!("<td class=\"num\">{}</td>", n[o]))
        .collect();
    let profiles: Vec<String> = ordered(es.iter().map(|e| e.profile))
        .iter()
        .map(|p| code(p))
        .collect();
    let bad = n[&Outcome::Mismatch] > 0;
    let changed = if diff {
        format!(
            "<td class=\"num\">{}</td>",
            es.iter().filter(|e| e.changed()).count()
        )
    } else {
        String::new()
    };
    format!(
        "<tr class=\"{cls}\"><th scope=\"row\">{name}</th><td>{profiles}</td>\
         <td class=\"num\">{total}</td>{tds}{changed}<td>{agrees}</td></tr>",
        cls = if bad { "bucket-bad" } else { "bucket-ok" },
        name = esc(name),
        profiles = profiles.join(" "),
        total = cells.len(),
        agrees = if bad {
            "<span class=\"o-mismatch-text\"><span aria-hidden=\"true\">✗</span> disagrees</span>"
        } else {
            "<span aria-hidden=\"true\">✓</span> yes"
        },
    )
}

fn detail(mode: &Mode, e: &Entry) -> String {
    let id = esc(&e.id());
    let body = match mode {
        Mode::Single(_) => e.after.map(cell_detail).unwrap_or_default(),
        Mode::Diff(..) => format!(
            "<div class=\"sides\"><div class=\"side\"><h3 class=\"side-h\">A (before)</h3>{}</div>\
             <div class=\"side\"><h3 class=\"side-h\">B (after)</h3>{}</div></div>",
            e.before
                .map_or_else(|| "<p>Not in A.</p>".to_owned(), cell_detail),
            e.after
                .map_or_else(|| "<p>Not in B.</p>".to_owned(), cell_detail),
        ),
    };
    format!(
        "<section class=\"detail\" id=\"detail-{id}\" aria-labelledby=\"h-{id}\">\
         <h2 id=\"h-{id}\" tabindex=\"-1\"><code>{profile}</code> / <code>{probe}</code></h2>\
         <button type=\"button\" class=\"back\">Back to the grid (Esc)</button>{body}</section>",
        profile = esc(e.profile),
        probe = esc(e.probe),
    )
}

/// One `<dt>`/`<dd>` pair; `value` is already HTML.
fn dd(term: &str, value: &str) -> String {
    format!("<dt>{term}</dt><dd>{value}</dd>")
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

fn verdict_html(v: Option<&str>) -> String {
    match v {
        Some(v) => format!(
            "<span class=\"v-{cls}\"><span aria-hidden=\"true\">{}</span> {}</span>",
            verdict_symbol(v),
            esc(v),
            cls = if v == "allow" { "allow" } else { "deny" },
        ),
        None => "<span class=\"v-none\">none</span>".to_owned(),
    }
}

fn cell_detail(c: &Cell) -> String {
    let outcome = Outcome::of(c);
    let mut s = format!("<p class=\"outcome\">{}", outcome.badge());
    if outcome == Outcome::Mismatch {
        let _ = write!(s, " <span class=\"why\">{}</span>", esc(&disagreement(c)));
    }
    s.push_str("</p>");
    s.push_str(&matrix_part(c));
    s.push_str(&decoder_part(c));
    s.push_str(&observed_part(c));
    s.push_str(&intercepts_part(c));
    s
}

/// Which of the three verdicts differ from the expectation.
fn disagreement(c: &Cell) -> String {
    let mut parts = Vec::new();
    if c.decoder.verdict.as_deref() != Some(c.expected.as_str()) {
        parts.push(format!(
            "the decoder says {}",
            c.decoder
                .verdict
                .as_deref()
                .unwrap_or("nothing (undetermined)")
        ));
    }
    if c.observed.verdict.as_deref() != Some(c.expected.as_str()) {
        parts.push(format!("the kernel observed {}", observed_short(c)));
    }
    format!("expected {}, but {}", c.expected, parts.join(" and "))
}

fn matrix_part(c: &Cell) -> String {
    let mut dl = dd(
        "probe",
        &format!("{} {}", code(&c.operation), code(&c.target)),
    );
    dl += &dd("expected", &verdict_html(Some(&c.expected)));
    if let Some(id) = &c.expectation_id {
        dl += &dd("expectation id", &code(id));
    }
    if let Some(label) = &c.label {
        dl += &dd("label", &esc(label));
    }
    if let Some(n) = c.profile_bucket {
        dl += &dd("profile bucket", &n.to_string());
    }
    format!("<h3>Matrix</h3><dl>{dl}</dl>")
}

fn decoder_part(c: &Cell) -> String {
    let d = &c.decoder;
    let path: Vec<String> = d.node_path.iter().map(u64::to_string).collect();
    let mut dl = dd("operation", &code(&d.operation));
    dl += &dd(
        "bucket",
        &d.bucket.map_or_else(|| "?".to_owned(), |b| b.to_string()),
    );
    dl += &dd("verdict", &verdict_html(d.verdict.as_deref()));
    dl += &dd(
        "rule",
        &format!("<code class=\"sbpl\">{}</code>", esc(&d.rule)),
    );
    dl += &dd("node path", &esc(&path.join(" → ")));
    format!(
        "<h3>Decoder</h3><dl>{dl}</dl><figure class=\"graph-wrap\">{}<figcaption>{}</figcaption></figure>",
        graph::svg(d),
        esc(&graph::describe(d)),
    )
}

fn observed_part(c: &Cell) -> String {
    let o = &c.observed;
    let mut dl = dd("verdict", &verdict_html(o.verdict.as_deref()));
    let errno = match (o.errno, &o.errno_name) {
        (Some(n), Some(name)) => format!("{n} ({})", esc(name)),
        (Some(n), None) => n.to_string(),
        (None, _) => "none".to_owned(),
    };
    dl += &dd("errno", &errno);
    dl += &dd("kind", &esc(&o.kind));
    if let Some(detail) = o.detail.as_ref().or(c.skip_reason.as_ref()) {
        dl += &dd("detail", &esc(detail));
    }
    let syscalls: Vec<String> = c
        .intercepts
        .iter()
        .map(|i| {
            let path = i
                .resolved
                .as_deref()
                .or(i.requested.as_deref())
                .unwrap_or("");
            format!("{} {}", code(&i.syscall), code(path))
        })
        .collect();
    dl += &dd(
        "syscall",
        &if syscalls.is_empty() {
            "none intercepted".to_owned()
        } else {
            syscalls.join("<br>")
        },
    );
    let logs: Vec<String> = c
        .intercepts
        .iter()
        .filter_map(|i| i.log.as_deref())
        .map(|l| format!("<code class=\"log\">{}</code>", esc(l)))
        .collect();
    dl += &dd(
        "denial log",
        &if logs.is_empty() {
            "none".to_owned()
        } else {
            logs.join("<br>")
        },
    );
    dl += &dd(
        "duration",
        &c.duration_us.map_or_else(|| "?".to_owned(), duration),
    );
    dl += &dd("backend", &code(c.backend.as_deref().unwrap_or("unknown")));
    dl += &dd("macOS paths", if c.macos_paths { "yes" } else { "no" });
    format!("<h3>Observed</h3><dl>{dl}</dl>")
}

fn duration(us: u64) -> String {
    if us >= 1000 {
        format!("{:.2} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

fn intercepts_part(c: &Cell) -> String {
    if c.intercepts.is_empty() {
        return String::new();
    }
    let rows: String = c
        .intercepts
        .iter()
        .map(|i| {
            let ops: Vec<String> = i
                .operations
                .iter()
                .map(|op| {
                    let path: Vec<String> = op.node_path.iter().map(u64::to_string).collect();
                    format!(
                        "{} bucket {} path {} {}",
                        code(&op.operation),
                        op.bucket.map_or_else(|| "?".to_owned(), |b| b.to_string()),
                        esc(&path.join("→")),
                        verdict_html(op.verdict.as_deref())
                    )
                })
                .collect();
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                code(&i.syscall),
                code(i.requested.as_deref().unwrap_or("")),
                code(i.resolved.as_deref().unwrap_or("")),
                ops.join("<br>"),
                verdict_html(i.verdict.as_deref()),
                i.errno.map_or_else(String::new, |e| e.to_string()),
                i.rule.as_deref().map(code).unwrap_or_default(),
            )
        })
        .collect();
    format!(
        "<h3>Intercepted syscalls</h3><div class=\"scroll\"><table class=\"intercepts\">\
         <thead><tr><th scope=\"col\">syscall</th><th scope=\"col\">requested</th>\
         <th scope=\"col\">resolved</th><th scope=\"col\">operations</th>\
         <th scope=\"col\">verdict</th><th scope=\"col\">errno</th><th scope=\"col\">rule</th>\
         </tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_every_markup_character() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn durations_read_in_the_right_unit() {
        assert_eq!(duration(606), "606 µs");
        assert_eq!(duration(1234), "1.23 ms");
    }
}
