//! What the enforcement and escape tests share: compiling a profile and
//! running a body in a supervised child under it, on the real kernel.

#![allow(dead_code)] // each test crate uses its own subset

use sbcheck::apply::linux::calls::SysResult;
use sbcheck::apply::linux::{Filter, Options, Supervisor};
use sbcheck::apply::process::{self, Ending, Enforcer, ExitStatus, Spec};
use sbcheck::blob::Profile;
use std::ffi::CString;
use std::path::Path;
use std::time::Duration;

/// A child that has not ended by then is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The blob of an SBPL text, decoded; a profile that does not compile
/// panics with the text, since it is the test's own.
pub fn compile(src: &str) -> Profile {
    let blob =
        sbcheck::sbpl::compile(src, &Default::default()).unwrap_or_else(|e| panic!("{e}\n{src}"));
    Profile::decode(&blob).unwrap()
}

/// Runs `body` in a child under `profile`; the ending and the supervisor's
/// records.
pub fn sandboxed<'p>(profile: &'p Profile, body: &dyn Fn() -> i32) -> (Ending, Supervisor<'p>) {
    let filter = Filter::new();
    let mut sup = Supervisor::new(profile, Options::default());
    let ending = process::run(
        Enforcer::Linux {
            filter: &filter,
            supervisor: &mut sup,
        },
        Spec::probe(TIMEOUT),
        body,
    )
    .unwrap();
    (ending, sup)
}

/// The result a body reported (errno, 0 = success).
pub fn reported(ending: &Ending) -> i32 {
    match ending {
        Ending::Reported { result } => *result,
        other => panic!("the child did not report: {other:?}"),
    }
}

/// A raw call's errno (0 = success).
pub fn errno_of(r: SysResult) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e,
    }
}

/// A path as a C string, for the raw calls.
pub fn c(p: impl AsRef<Path>) -> CString {
    CString::new(p.as_ref().as_os_str().as_encoded_bytes()).unwrap()
}

/// How a sandboxed child making an i386 `int 0x80` call ends: where the call
/// worked unsandboxed (`native_worked`: the kernel has IA-32 emulation) the
/// architecture check kills it with SIGSYS; elsewhere the CPU faults before
/// any filter runs, so any signal. `native` is shown on failure.
pub fn assert_int80_killed(ending: &Ending, native_worked: bool, native: &dyn std::fmt::Debug) {
    match ending {
        Ending::Died {
            status: ExitStatus::Signal(s),
        } if !native_worked || *s == libc::SIGSYS => {}
        _ => panic!("unsandboxed {native:?}, sandboxed {ending:?}"),
    }
}
