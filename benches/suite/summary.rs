//! Medians with min-max, and the table the suite ends with.

use std::time::Instant;

/// Nanoseconds: the median of the rounds and their extremes.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(mut ns: Vec<f64>) -> Summary {
        assert!(!ns.is_empty(), "a measurement without samples");
        ns.sort_by(f64::total_cmp);
        Summary {
            median: ns[ns.len() / 2],
            min: ns[0],
            max: ns[ns.len() - 1],
        }
    }

    /// One call's time, from `rounds` timings of `batch` calls each.
    pub fn per_call(rounds: usize, batch: usize, mut f: impl FnMut()) -> Summary {
        Summary::of(
            (0..rounds)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..batch {
                        f();
                    }
                    start.elapsed().as_nanos() as f64 / batch as f64
                })
                .collect(),
        )
    }
}

/// A duration in the unit that reads best.
pub fn human(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} us", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

struct Row {
    item: &'static str,
    name: String,
    s: Summary,
    /// What the median is compared with, and its median.
    vs: Option<(&'static str, f64)>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Table {
    /// Adds a row and prints it at once (a long run shows progress).
    pub fn add(
        &mut self,
        item: &'static str,
        name: &str,
        s: Summary,
        vs: Option<(&'static str, f64)>,
    ) {
        let row = Row {
            item,
            name: name.to_owned(),
            s,
            vs,
        };
        println!("  {}", row.line());
        self.rows.push(row);
    }

    pub fn note(&mut self, note: String) {
        println!("  {note}");
        self.notes.push(note);
    }

    /// Every row again, as a Markdown table for the README.
    pub fn print(&self) {
        println!("| # | measurement | median | min-max | ratio |");
        println!("|---|---|---|---|---|");
        for r in &self.rows {
            println!(
                "| {} | {} | {} | {} - {} | {} |",
                r.item,
                r.name,
                human(r.s.median),
                human(r.s.min),
                human(r.s.max),
                r.ratio()
            );
        }
        for n in &self.notes {
            println!("\n{n}");
        }
    }
}

impl Row {
    fn ratio(&self) -> String {
        match self.vs {
            Some((what, ns)) if ns > 0.0 && self.s.median * 10.0 < ns => {
                format!("1/{:.0} of {what}", ns / self.s.median)
            }
            Some((what, ns)) if ns > 0.0 => format!("{:.2}x {what}", self.s.median / ns),
            _ => String::new(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{:<62} median {:>10}  ({} - {})  {}",
            self.name,
            human(self.s.median),
            human(self.s.min),
            human(self.s.max),
            self.ratio()
        )
    }
}
