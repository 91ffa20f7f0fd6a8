//! A command to run sandboxed (`sbcheck exec`), prepared before `fork()`:
//! its candidate paths (PATH searched as `execvp` does), argv, envp and the
//! message for each way the exec can fail, so the child only makes raw
//! calls. The exec itself happens under the sandbox: process-exec* is
//! checked, as `sandbox-exec` does.

use std::ffi::{c_char, CString};

/// Exit status when the command cannot be run, as shells use them.
pub const EXIT_NOT_FOUND: i32 = 127;
pub const EXIT_CANNOT_RUN: i32 = 126;

/// A command ready to exec in a forked child.
pub struct Command {
    /// Where the program may be: itself when it names a path, else each
    /// PATH entry joined with it.
    candidates: Vec<CString>,
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
    _env: Vec<CString>,
    envp: Vec<*const c_char>,
    /// `sbcheck: cat: <strerror>\n` for every errno, indexed by errno.
    messages: Vec<Vec<u8>>,
    pub display: String,
}

/// Why a command could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

fn cstring(s: &str, what: &str) -> Result<CString, CommandError> {
    CString::new(s).map_err(|_| CommandError(format!("{what} {s:?} contains a NUL byte")))
}

impl Command {
    /// `program` with `args` (not including the program), in the current
    /// environment.
    pub fn new(program: &str, args: &[String]) -> Result<Command, CommandError> {
        if program.is_empty() {
            return Err(CommandError("no command given".into()));
        }
        let named = cstring(program, "command")?;
        let candidates = if program.contains('/') {
            vec![named]
        } else {
            let path =
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
            path.split(':')
                .map(|dir| if dir.is_empty() { "." } else { dir })
                .map(|dir| cstring(&format!("{dir}/{program}"), "command"))
                .collect::<Result<_, _>>()?
        };
        let args: Vec<CString> = std::iter::once(program)
            .chain(args.iter().map(String::as_str))
            .map(|a| cstring(a, "argument"))
            .collect::<Result<_, _>>()?;
        let env: Vec<CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend_from_slice(v.as_encoded_bytes());
                CString::new(kv).ok()
            })
            .collect();
        let ptrs = |v: &[CString]| {
            v.iter()
                .map(|c| c.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        let messages = (0..=133)
            .map(|e| format!("sbcheck: {program}: {}\n", strerror(e)).into_bytes())
            .collect();
        Ok(Command {
            argv: ptrs(&args),
            envp: ptrs(&env),
            candidates,
            _args: args,
            _env: env,
            messages,
            display: program.to_owned(),
        })
    }

    /// Execs the command, trying each candidate as `execvp` does (on to
    /// the next when one is missing or not executable); if none runs,
    /// prints why on stderr and exits 127 (not found) or 126. Runs in the
    /// forked child: raw calls on memory prepared before the fork.
    pub fn exec(&self) -> ! {
        let mut last = libc::ENOENT;
        let mut denied = None;
        for path in &self.candidates {
            let e = super::sys::execve(path, &self.argv, &self.envp);
            match e {
                libc::ENOENT | libc::ENOTDIR => {}
                libc::EACCES => denied = Some(e),
                _ => {
                    last = e;
                    denied = None;
                    break;
                }
            }
        }
        let e = denied.unwrap_or(last);
        if let Some(msg) = self.messages.get(e as usize) {
            let _ = super::sys::write(2, msg);
        }
        let code = if e == libc::ENOENT {
            EXIT_NOT_FOUND
        } else {
            EXIT_CANNOT_RUN
        };
        // SAFETY: _exit ends the child at once.
        unsafe { libc::_exit(code) }
    }
}

/// The text of an errno (prepared in the parent; strerror is not safe
/// after fork).
fn strerror(e: i32) -> String {
    let full = std::io::Error::from_raw_os_error(e).to_string();
    // "Operation not permitted (os error 1)" -> "Operation not permitted"
    match full.rfind(" (os error") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_paths_and_messages() {
        let c = Command::new("cat", &["/tmp/x".to_owned()]).unwrap();
        assert!(c.candidates.iter().all(|p| p.to_bytes().ends_with(b"/cat")));
        assert_eq!(c.argv.len(), 3);
        assert!(c.argv[2].is_null());
        assert_eq!(
            String::from_utf8_lossy(&c.messages[libc::EPERM as usize]),
            "sbcheck: cat: Operation not permitted\n"
        );
        let c = Command::new("./run.sh", &[]).unwrap();
        assert_eq!(c.candidates, vec![CString::new("./run.sh").unwrap()]);
        assert_eq!(
            Command::new("a\0b", &[]).err().unwrap().to_string(),
            "command \"a\\0b\" contains a NUL byte"
        );
        assert!(Command::new("", &[]).is_err());
    }
}
