//! Denial logs in Seatbelt's words:
//! `Sandbox: cat(4821) deny(1) file-read-data /tmp/bar ;; (deny default)`:
//! the process, the verdict, the operation and its target as the kernel log
//! of macOS shows them, then the rule that decided, as an SBPL comment.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogTarget {
    /// Nowhere (the harness reads its records instead).
    #[default]
    Off,
    Stderr,
    /// Appended to a file.
    File(PathBuf),
}

/// An open log.
pub struct Log {
    out: Option<Box<dyn Write + Send>>,
}

impl Log {
    pub fn off() -> Log {
        Log { out: None }
    }

    pub fn open(target: &LogTarget) -> std::io::Result<Log> {
        let out: Option<Box<dyn Write + Send>> = match target {
            LogTarget::Off => None,
            LogTarget::Stderr => Some(Box::new(std::io::stderr())),
            LogTarget::File(p) => Some(Box::new(append(p)?)),
        };
        Ok(Log { out })
    }

    pub fn is_on(&self) -> bool {
        self.out.is_some()
    }

    /// Writes one line at once, so lines from the sandboxed program and
    /// ours interleave whole.
    pub fn line(&mut self, line: &str) {
        if let Some(out) = &mut self.out {
            let mut l = String::with_capacity(line.len() + 1);
            l.push_str(line);
            l.push('\n');
            // A log that cannot be written must not stop enforcement.
            let _ = out.write_all(l.as_bytes());
            let _ = out.flush();
        }
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// One logged event.
pub struct Event<'a> {
    /// The process's command name (`/proc/PID/comm`).
    pub process: &'a str,
    pub pid: i32,
    pub deny: bool,
    pub operation: &'a str,
    /// The path or address; empty for operations without one (process-fork).
    pub target: &'a str,
    /// The deciding rule as SBPL, or why no rule decided.
    pub rule: &'a str,
}

impl Event<'_> {
    /// `deny(1) file-read-data /tmp/bar`: what Seatbelt's log line says
    /// after the process.
    pub fn summary(&self) -> String {
        let verb = if self.deny { "deny" } else { "allow" };
        if self.target.is_empty() {
            format!("{verb}(1) {}", self.operation)
        } else {
            format!("{verb}(1) {} {}", self.operation, self.target)
        }
    }

    /// The whole line.
    pub fn line(&self) -> String {
        let rule = self.rule.trim_start_matches(";; ");
        format!(
            "Sandbox: {}({}) {} ;; {rule}",
            self.process,
            self.pid,
            self.summary()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_like_seatbelts() {
        let e = Event {
            process: "cat",
            pid: 42,
            deny: true,
            operation: "file-read-data",
            target: "/tmp/bar",
            rule: "(deny default)",
        };
        assert_eq!(e.summary(), "deny(1) file-read-data /tmp/bar");
        assert_eq!(
            e.line(),
            "Sandbox: cat(42) deny(1) file-read-data /tmp/bar ;; (deny default)"
        );
        let fork = Event {
            target: "",
            operation: "process-fork",
            rule: ";; undetermined at node 3: no path argument given",
            ..e
        };
        assert_eq!(
            fork.line(),
            "Sandbox: cat(42) deny(1) process-fork ;; undetermined at node 3: no path argument given"
        );
    }

    #[test]
    fn a_log_file_is_appended_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        let mut log = Log::open(&LogTarget::File(p.clone())).unwrap();
        log.line("one");
        log.line("two");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        let bad = dir.path().join("missing/log");
        let e = Log::open(&LogTarget::File(bad.clone())).err().unwrap();
        assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
    }
}
