//! Probes: the one system call a cell exercises, prepared in the parent and
//! run in the sandboxed child. The outcome is the errno observed (0 = the
//! call succeeded).

use crate::apply::sys;
use crate::vocab::{op, OpId};
use std::ffi::CString;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// open O_RDONLY, read one byte: file-read-data.
    Read,
    /// open O_WRONLY|O_CREAT, write one byte: file-write-data
    /// (file-write-create when the target is missing).
    Write,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
        }
    }
}

/// A probe ready to run after `fork()`: everything allocated up front.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: Kind,
    pub target: String,
    path: CString,
    /// Bytes the write probe writes: one into files the harness owns, none
    /// into anything else (a system file must not be changed when a profile
    /// wrongly allows the write; the check happens at open anyway).
    write_len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

impl Probe {
    /// The probe for a matrix cell: its operation (as the matrix names it)
    /// and target. `owned` says the harness created the target.
    pub fn new(operation: &str, target: &str, owned: bool) -> Result<Probe, ProbeError> {
        let kind = match operation {
            "file-read*" | "file-read-data" => Kind::Read,
            "file-write*" | "file-write-data" => Kind::Write,
            other => return Err(ProbeError(format!("no probe for operation {other}"))),
        };
        let path = CString::new(target)
            .map_err(|_| ProbeError(format!("target {target:?} contains NUL")))?;
        Ok(Probe {
            kind,
            target: target.to_owned(),
            path,
            write_len: usize::from(owned),
        })
    }

    /// The concrete operation the probe's syscall exercises: what the
    /// decoder is asked about.
    pub fn operation(&self) -> OpId {
        match self.kind {
            Kind::Read => op::FILE_READ_DATA,
            Kind::Write => op::FILE_WRITE_DATA,
        }
    }

    /// Runs the probe; returns 0 or the errno. Runs in the forked child:
    /// raw syscalls only.
    pub fn run(&self) -> i32 {
        let outcome = match self.kind {
            Kind::Read => self.read(),
            Kind::Write => self.write(),
        };
        outcome.err().unwrap_or(0)
    }

    fn read(&self) -> Result<(), i32> {
        let fd = sys::open(&self.path, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
        let mut byte = [0u8; 1];
        let r = sys::read(fd, &mut byte);
        sys::close(fd);
        r.map(drop)
    }

    fn write(&self) -> Result<(), i32> {
        let fd = sys::open(
            &self.path,
            libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
            0o644,
        )?;
        let r = sys::write(fd, b"x".get(..self.write_len).unwrap_or_default());
        sys::close(fd);
        r.map(drop)
    }
}
