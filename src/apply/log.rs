//! Denial logs in Seatbelt's words:
//! `Sandbox: cat(4821) deny(1) file-read-data /tmp/bar ;; (deny default)`:
//! the process, the verdict, the operation and its target as the kernel log
//! of macOS shows them, then the rule that decided, as an SBPL comment.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// An open log. Clones write to the same place (the supervisor's threads
/// share one), a whole line at a time.
#[derive(Clone)]
pub struct Log {
    out: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
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
        Ok(Log {
            out: out.map(|o| Arc::new(Mutex::new(o))),
        })
    }

    pub fn is_on(&self) -> bool {
        self.out.is_some()
    }

    /// Writes one line at once, so lines from the sandboxed program and
    /// ours interleave whole.
    pub fn line(&mut self, line: &str) {
        if let Some(out) = &self.out {
            let mut l = String::with_capacity(line.len() + 1);
            l.push_str(line);
            l.push('\n');
            // A log that cannot be written must not stop enforcement (nor
            // a thread that panicked holding it).
            let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
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
            format!("{verb}(1) {} {}", self.operation, escaped(self.target))
        }
    }

    /// The whole line. What the sandboxed process chose (its name, the
    /// path) is escaped, so no byte of it can end the line or forge
    /// another.
    pub fn line(&self) -> String {
        let rule = self.rule.trim_start_matches(";; ");
        format!(
            "Sandbox: {}({}) {} ;; {}",
            escaped(self.process),
            self.pid,
            self.summary(),
            escaped(rule)
        )
    }
}

/// `text` with control characters (C0, DEL, C1), Unicode line and
/// paragraph separators, the replacement character (a byte that was not
/// UTF-8) and the backslash written as `\xNN` / `\u{N}` / `\\`: a log
/// line stays one line, and an escape in the text cannot pass for ours.
pub fn escaped(text: &str) -> Cow<'_, str> {
    let plain =
        |c: char| !c.is_control() && !matches!(c, '\\' | '\u{2028}' | '\u{2029}' | '\u{fffd}');
    if text.chars().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if plain(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_process_chose_cannot_forge_a_line() {
        let e = Event {
            process: "x\nSandbox: cat(1) allow(1)",
            pid: 42,
            deny: true,
            operation: "file-read-data",
            target: "/tmp/a\rb\u{1b}[2K\u{85}\u{2028}\\x0a\u{fffd}",
            rule: "(deny default)",
        };
        let line = e.line();
        assert_eq!(line.lines().count(), 1);
        assert_eq!(
            line,
            "Sandbox: x\\x0aSandbox: cat(1) allow(1)(42) deny(1) file-read-data \
             /tmp/a\\x0db\\x1b[2K\\x85\\u{2028}\\\\x0a\\u{fffd} ;; (deny default)"
        );
        assert!(matches!(escaped("/usr/bin/ünï"), Cow::Borrowed(_)));
    }

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
