//! The seccomp filter: a classic-BPF program built before `fork()`, so the
//! child only hands it to the kernel.
//!
//! Layout: check the architecture (anything but x86_64 is killed: an i386
//! `int 0x80` would otherwise be read with x86_64 numbers), refuse x32
//! numbers, then find the syscall number in a binary search tree over the
//! numbers the engine cares about and jump to its action. Everything else is
//! allowed. A few syscalls need an argument test: clone (a new thread is not
//! a fork), prctl (only capability-changing options), seccomp (no second
//! listener).
//!
//! Jumps are symbolic while the program is built and resolved to the
//! relative 8-bit offsets classic BPF wants at the end; a program whose
//! jumps do not fit is an error the unit tests would catch.

use super::syscalls::{self, When, PRCTL_CAPS};

/// `AUDIT_ARCH_X86_64` (not in the libc crate).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// Syscall numbers at or above this are x32 ABI calls.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic BPF opcodes (linux/bpf_common.h), spelled out so the program is
// built and tested on every platform.
/// BPF_LD (0x00) | BPF_W (0x00) | BPF_ABS (0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;

// Return values (linux/seccomp.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// `offsetof(struct seccomp_data, ...)`; the low word of argument `i` is at
/// `16 + 8 * i` on little-endian machines.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const CLONE_THREAD: u32 = 0x0001_0000;
/// SECCOMP_FILTER_FLAG_NEW_LISTENER.
const NEW_LISTENER: u32 = 1 << 3;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

/// One classic-BPF instruction, laid out as `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// The filter's outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Allow,
    Notify,
    Eperm,
    Enosys,
    Kill,
}

impl Ret {
    const ALL: [Ret; 5] = [Ret::Allow, Ret::Notify, Ret::Eperm, Ret::Enosys, Ret::Kill];

    pub fn value(self) -> u32 {
        match self {
            Ret::Allow => RET_ALLOW,
            Ret::Notify => RET_USER_NOTIF,
            Ret::Eperm => RET_ERRNO | EPERM,
            Ret::Enosys => RET_ERRNO | ENOSYS,
            Ret::Kill => RET_KILL_PROCESS,
        }
    }
}

/// Where a jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Next,
    Ret(Ret),
    Label(usize),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Load(u32),
    Jump {
        code: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    Return(Ret),
    Label(usize),
}

/// What the tree does for one syscall number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Ret(Ret),
    Clone,
    Prctl,
    Seccomp,
}

#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> usize {
        self.labels += 1;
        self.labels - 1
    }

    fn jump(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.ops.push(Op::Jump { code, k, t, f });
    }

    /// Resolves labels into offsets; `None` if a jump does not fit 8 bits.
    fn assemble(self) -> Option<Vec<Insn>> {
        let mut at = vec![usize::MAX; self.labels];
        let mut ret_at = [usize::MAX; 5];
        let mut pos = 0;
        for op in &self.ops {
            match *op {
                Op::Label(l) => at[l] = pos,
                Op::Return(r) => {
                    if let Some(i) = Ret::ALL.iter().position(|&x| x == r) {
                        ret_at[i] = ret_at[i].min(pos);
                    }
                    pos += 1;
                }
                _ => pos += 1,
            }
        }
        let resolve = |t: Target, pos: usize| -> Option<u8> {
            let dest = match t {
                Target::Next => return Some(0),
                Target::Label(l) => at[l],
                Target::Ret(r) => ret_at[Ret::ALL.iter().position(|&x| x == r)?],
            };
            u8::try_from(dest.checked_sub(pos + 1)?).ok()
        };
        let mut out = Vec::with_capacity(pos);
        for op in &self.ops {
            let pos = out.len();
            out.push(match *op {
                Op::Label(_) => continue,
                Op::Load(off) => Insn {
                    code: BPF_LD_W_ABS,
                    jt: 0,
                    jf: 0,
                    k: off,
                },
                Op::Return(r) => Insn {
                    code: BPF_RET_K,
                    jt: 0,
                    jf: 0,
                    k: r.value(),
                },
                Op::Jump { code, k, t, f } => Insn {
                    code,
                    jt: resolve(t, pos)?,
                    jf: resolve(f, pos)?,
                    k,
                },
            });
        }
        Some(out)
    }
}

/// The BPF program, built before `fork()`.
#[derive(Debug, Clone)]
pub struct Filter {
    program: Vec<Insn>,
    /// A Landlock ruleset the child enforces before the filter
    /// (`sbcheck exec --kernel`, see [`super::landlock`]).
    landlock: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

/// Every syscall number with an action, sorted. `answered`: intercepted
/// syscalls the filter allows itself (see [`super::answers`]), whatever
/// their arguments.
fn table(answered: &[i64]) -> Vec<(u32, Action)> {
    let mut t: Vec<(u32, Action)> = syscalls::INTERCEPTED
        .iter()
        .map(|s| {
            let action = match s.when {
                _ if answered.contains(&s.nr) => Action::Ret(Ret::Allow),
                When::Always => Action::Ret(Ret::Notify),
                When::CloneUnlessThread => Action::Clone,
                When::PrctlCaps => Action::Prctl,
            };
            (s.nr as u32, action)
        })
        .chain(
            syscalls::REFUSED
                .iter()
                .map(|&nr| (nr as u32, Action::Ret(Ret::Eperm))),
        )
        .chain(
            syscalls::UNAVAILABLE
                .iter()
                .map(|&nr| (nr as u32, Action::Ret(Ret::Enosys))),
        )
        .collect();
    if syscalls::SECCOMP >= 0 {
        t.push((syscalls::SECCOMP as u32, Action::Seccomp));
    }
    t.sort_by_key(|&(nr, _)| nr);
    t
}

impl Filter {
    /// Every syscall of the map goes to the supervisor.
    pub fn new() -> Filter {
        Filter::answering(&[])
    }

    /// As [`Filter::new`], but fork, vfork and clone pass without a round
    /// trip: for a profile that allows process-fork unconditionally and
    /// without a report. (A notified call is interruptible until the
    /// supervisor takes it, so a signal could fail a fork with EINTR where
    /// the kernel's own fork would restart; unnotified forks cannot.)
    pub fn forks_allowed() -> Filter {
        let forks: Vec<i64> = syscalls::INTERCEPTED
            .iter()
            .filter(|s| s.kind == syscalls::Kind::Fork)
            .map(|s| s.nr)
            .collect();
        Filter::answering(&forks)
    }

    /// As [`Filter::new`], but the intercepted syscalls in `answered` are
    /// allowed by the filter itself, with no round trip: for the calls a
    /// profile allows whatever their arguments and without a report.
    pub fn answering(answered: &[i64]) -> Filter {
        let program =
            build(&table(answered)).expect("the filter's jumps fit in 8 bits (unit-tested)");
        Filter {
            program,
            landlock: None,
        }
    }

    /// This filter, with a Landlock ruleset enforced first.
    pub fn with_landlock(mut self, ruleset: std::os::fd::OwnedFd) -> Filter {
        self.landlock = Some(std::sync::Arc::new(ruleset));
        self
    }

    /// The Landlock ruleset's fd, if there is one.
    pub fn landlock(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.landlock.as_ref().map(|fd| fd.as_raw_fd())
    }

    pub fn program(&self) -> &[Insn] {
        &self.program
    }
}

fn build(table: &[(u32, Action)]) -> Option<Vec<Insn>> {
    let mut a = Asm::default();
    a.ops.push(Op::Load(OFFSET_ARCH));
    a.jump(
        BPF_JMP_JEQ_K,
        AUDIT_ARCH_X86_64,
        Target::Next,
        Target::Ret(Ret::Kill),
    );
    a.ops.push(Op::Load(OFFSET_NR));
    a.jump(
        BPF_JMP_JGE_K,
        X32_SYSCALL_BIT,
        Target::Ret(Ret::Eperm),
        Target::Next,
    );
    let blocks = [a.label(), a.label(), a.label()];
    let target = |action: Action| match action {
        Action::Ret(r) => Target::Ret(r),
        Action::Clone => Target::Label(blocks[0]),
        Action::Prctl => Target::Label(blocks[1]),
        Action::Seccomp => Target::Label(blocks[2]),
    };
    tree(&mut a, table, &target);
    // clone: a thread is not a fork.
    a.ops.push(Op::Label(blocks[0]));
    a.ops.push(Op::Load(arg_low(0)));
    a.jump(
        BPF_JMP_JSET_K,
        CLONE_THREAD,
        Target::Ret(Ret::Allow),
        Target::Ret(Ret::Notify),
    );
    // prctl: only the options that change capabilities at the next exec.
    a.ops.push(Op::Label(blocks[1]));
    a.ops.push(Op::Load(arg_low(0)));
    for (i, &option) in PRCTL_CAPS.iter().enumerate() {
        let f = if i + 1 == PRCTL_CAPS.len() {
            Target::Ret(Ret::Allow)
        } else {
            Target::Next
        };
        a.jump(BPF_JMP_JEQ_K, option, Target::Ret(Ret::Notify), f);
    }
    // seccomp: no second listener.
    a.ops.push(Op::Label(blocks[2]));
    a.ops.push(Op::Load(arg_low(1)));
    a.jump(
        BPF_JMP_JSET_K,
        NEW_LISTENER,
        Target::Ret(Ret::Eperm),
        Target::Ret(Ret::Allow),
    );
    for r in Ret::ALL {
        a.ops.push(Op::Return(r));
    }
    a.assemble()
}

/// A binary search over sorted `(nr, action)` pairs, the syscall number in
/// the accumulator; numbers not in the table fall through to ALLOW.
fn tree(a: &mut Asm, entries: &[(u32, Action)], target: &dyn Fn(Action) -> Target) {
    if entries.len() <= 4 {
        for (i, &(nr, action)) in entries.iter().enumerate() {
            let f = if i + 1 == entries.len() {
                Target::Ret(Ret::Allow)
            } else {
                Target::Next
            };
            a.jump(BPF_JMP_JEQ_K, nr, target(action), f);
        }
        if entries.is_empty() {
            a.ops.push(Op::Return(Ret::Allow));
        }
        return;
    }
    let mid = entries.len() / 2;
    let right = a.label();
    a.jump(
        BPF_JMP_JGE_K,
        entries[mid].0,
        Target::Label(right),
        Target::Next,
    );
    tree(a, &entries[..mid], target);
    a.ops.push(Op::Label(right));
    tree(a, &entries[mid..], target);
}

/// Runs the program on one `seccomp_data` (for tests): the return value.
pub fn run(program: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let word = |off: u32| -> u32 {
        match off {
            OFFSET_NR => nr,
            OFFSET_ARCH => arch,
            o if o >= 16 && (o - 16) % 8 == 0 => args[((o - 16) / 8) as usize] as u32,
            _ => 0,
        }
    };
    let mut acc = 0u32;
    let mut pc = 0usize;
    while let Some(insn) = program.get(pc) {
        pc += 1;
        match insn.code {
            BPF_LD_W_ABS => acc = word(insn.k),
            BPF_RET_K => return insn.k,
            code => {
                let taken = match code {
                    BPF_JMP_JEQ_K => acc == insn.k,
                    BPF_JMP_JGE_K => acc >= insn.k,
                    BPF_JMP_JSET_K => acc & insn.k != 0,
                    _ => return RET_KILL_PROCESS,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
        }
    }
    RET_KILL_PROCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(nr: i64, args: [u64; 6]) -> u32 {
        run(Filter::new().program(), AUDIT_ARCH_X86_64, nr as u32, args)
    }

    #[test]
    fn the_program_assembles_and_every_jump_is_forward() {
        let f = Filter::new();
        let p = f.program();
        assert!(p.len() < 255, "{} instructions", p.len());
        for (i, insn) in p.iter().enumerate() {
            if insn.code != BPF_RET_K && insn.code != BPF_LD_W_ABS {
                assert!(i + 1 + (insn.jt.max(insn.jf) as usize) < p.len());
            }
        }
    }

    #[test]
    fn each_table_entry_reaches_its_action() {
        for s in syscalls::INTERCEPTED {
            let expected = match s.when {
                When::Always => RET_USER_NOTIF,
                // Tested below with arguments.
                _ => continue,
            };
            assert_eq!(verdict(s.nr, [0; 6]), expected, "{}", s.name);
        }
        for &nr in syscalls::REFUSED {
            assert_eq!(verdict(nr, [0; 6]), RET_ERRNO | EPERM, "{nr}");
        }
        for &nr in syscalls::UNAVAILABLE {
            assert_eq!(verdict(nr, [0; 6]), RET_ERRNO | ENOSYS, "{nr}");
        }
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn other_syscalls_pass_and_arguments_are_tested() {
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_fstat,
            libc::SYS_getpid,
            0,
            1000,
        ] {
            assert_eq!(verdict(nr, [0; 6]), RET_ALLOW, "{nr}");
        }
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD) as u64;
        assert_eq!(verdict(libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), RET_ALLOW);
        let fork = libc::SIGCHLD as u64;
        assert_eq!(
            verdict(libc::SYS_clone, [fork, 0, 0, 0, 0, 0]),
            RET_USER_NOTIF
        );
        let prctl = |opt: i32| verdict(libc::SYS_prctl, [opt as u64, 0, 0, 0, 0, 0]);
        assert_eq!(prctl(libc::PR_SET_NAME), RET_ALLOW);
        assert_eq!(prctl(libc::PR_CAPBSET_DROP), RET_USER_NOTIF);
        assert_eq!(prctl(libc::PR_CAP_AMBIENT), RET_USER_NOTIF);
        let seccomp = |flags: u64| verdict(libc::SYS_seccomp, [1, flags, 0, 0, 0, 0]);
        assert_eq!(seccomp(0), RET_ALLOW);
        assert_eq!(seccomp(u64::from(NEW_LISTENER)), RET_ERRNO | EPERM);
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn forks_can_pass_without_a_round_trip() {
        let p = Filter::forks_allowed();
        let v = |nr: i64, a0: u64| {
            run(
                p.program(),
                AUDIT_ARCH_X86_64,
                nr as u32,
                [a0, 0, 0, 0, 0, 0],
            )
        };
        assert_eq!(v(libc::SYS_fork, 0), RET_ALLOW);
        assert_eq!(v(libc::SYS_vfork, 0), RET_ALLOW);
        assert_eq!(v(libc::SYS_clone, libc::SIGCHLD as u64), RET_ALLOW);
        assert_eq!(v(libc::SYS_openat, 0), RET_USER_NOTIF);
        assert_eq!(v(libc::SYS_clone3, 0), RET_ERRNO | ENOSYS);
    }

    #[test]
    fn wrong_architecture_is_killed_and_x32_refused() {
        let p = Filter::new();
        // AUDIT_ARCH_I386.
        assert_eq!(run(p.program(), 0x4000_0003, 5, [0; 6]), RET_KILL_PROCESS);
        assert_eq!(
            run(p.program(), AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 2, [0; 6]),
            RET_ERRNO | EPERM
        );
    }

    #[test]
    fn jumps_that_do_not_fit_are_an_error_not_a_wrong_program() {
        let many: Vec<(u32, Action)> = (0..600).map(|n| (n, Action::Ret(Ret::Notify))).collect();
        assert!(build(&many).is_none());
    }
}
