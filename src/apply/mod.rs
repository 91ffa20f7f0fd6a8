//! Enforcement: applying a compiled profile to a process.
//!
//! Two backends share one shape. Work that may allocate happens in the parent
//! before `fork()`; the child only enters the sandbox with raw syscalls and
//! runs its probe.
//!
//! - [`linux`]: seccomp user notification. The child installs a filter that
//!   sends every path-bearing syscall to a listener, hands the listener to the
//!   parent, and the parent's [`linux::Supervisor`] evaluates the blob's node
//!   graph for each call and answers CONTINUE or an errno. The kernel enforces
//!   *our reading* of the blob.
//! - [`seatbelt`]: macOS's own `sandbox_apply` from libsandbox, loaded at run
//!   time. Only this backend checks Apple's kernel.
//!
//! All `unsafe` code of the crate lives under this module.

pub mod linux;
pub mod process;
pub mod resolve;
pub mod seatbelt;
pub mod sys;
pub mod syscalls;

use std::fmt;

/// Which enforcement produced an observation; recorded in every trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// seccomp user notification + our evaluator, on the Linux kernel.
    Linux,
    /// libsandbox `sandbox_apply`, on the macOS kernel.
    Seatbelt,
}

impl Backend {
    /// The backend native to this platform.
    pub fn native() -> Backend {
        if cfg!(target_os = "macos") {
            Backend::Seatbelt
        } else {
            Backend::Linux
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Linux => "linux-seccomp-notify",
            Backend::Seatbelt => "macos-seatbelt",
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "linux" | "linux-seccomp-notify" => Some(Backend::Linux),
            "seatbelt" | "macos" | "macos-seatbelt" => Some(Backend::Seatbelt),
            _ => None,
        }
    }
}

/// Why a profile could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The backend does not exist on this platform or architecture.
    Unsupported(String),
    /// A system call failed while setting up enforcement.
    Sys { call: &'static str, errno: i32 },
    /// libsandbox could not be loaded or lacks a symbol.
    Library(String),
    /// `sandbox_apply` refused: the process is already sandboxed or SIP
    /// forbids it.
    NotPermitted(String),
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::Unsupported(why) => write!(f, "unsupported: {why}"),
            ApplyError::Sys { call, errno } => {
                write!(f, "{call}: {}", std::io::Error::from_raw_os_error(*errno))
            }
            ApplyError::Library(why) => write!(f, "libsandbox: {why}"),
            ApplyError::NotPermitted(why) => {
                write!(f, "sandbox_apply: Operation not permitted ({why})")
            }
        }
    }
}

impl std::error::Error for ApplyError {}
