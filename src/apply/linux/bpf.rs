//! The seccomp filter: a classic-BPF program built before `fork()`, so the
//! child only hands it to the kernel.
//!
//! Layout: check the architecture (anything but x86_64 is killed: an i386
//! `int 0x80` would otherwise be read with x86_64 numbers), refuse x32
//! numbers, then find the syscall number in a binary search tree over
//! ranges of numbers with one action each. It is an allowlist: a number
//! the tables of `syscalls` do not name is answered ENOSYS, so a syscall
//! added by a newer kernel is refused until someone decides what it
//! touches. A few syscalls need an argument test: clone (a new thread is
//! not a fork), prctl (only capability-changing options), seccomp (no
//! second listener), fcntl (F_SETOWN names a process, F_SETOWN_EX hides it
//! in memory), prlimit64 (another process, or a new limit), ioctl (owners,
//! terminal input, inode flags) and setrlimit (no core dump limit).
//!
//! Each leaf of the tree holds its own return instructions, and a branch
//! reaches its right half with an unconditional jump (32-bit offset), so
//! the program can be longer than the 8-bit offsets of conditional jumps.
//! Jumps are symbolic while the program is built and resolved at the end;
//! a program whose conditional jumps do not fit is an error the unit tests
//! would catch.

use super::syscalls::{self, When, PRCTL_CAPS};

/// `AUDIT_ARCH_X86_64` (not in the libc crate).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// Syscall numbers at or above this are x32 ABI calls.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic BPF opcodes (linux/bpf_common.h), spelled out so the program is
// built and tested on every platform.
/// BPF_LD (0x00) | BPF_W (0x00) | BPF_ABS (0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
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
const fn arg_high(i: u32) -> u32 {
    20 + 8 * i
}

const CLONE_THREAD: u32 = 0x0001_0000;
/// SECCOMP_FILTER_FLAG_NEW_LISTENER.
const NEW_LISTENER: u32 = 1 << 3;
const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
/// Syscall numbers at or above this are not looked up (ENOSYS); x86_64
/// numbers end below 512 (the x32 range starts at 512 too).
const NR_END: u32 = 512;
/// fcntl commands that set the process to receive SIGIO/SIGURG.
const F_SETOWN: u32 = 8;
const F_SETOWN_EX: u32 = 15;
const RLIMIT_CORE: u32 = 4;
/// ioctls refused whatever the fd: FIOSETOWN and SIOCSPGRP set a SIGIO
/// owner from memory (a pid the filter cannot read), TIOCSTI and TIOCLINUX
/// push input into a terminal that an unsandboxed shell reads next, and
/// TIOCSCTTY steals a terminal from its session (whose foreground group,
/// the supervisor's perhaps, then gets SIGHUP).
const IOCTL_REFUSED: [u32; 5] = [0x8901, 0x8902, 0x5412, 0x541C, 0x540E];
/// ioctls that set inode flags through an fd: FS_IOC_SETFLAGS,
/// FS_IOC32_SETFLAGS, FS_IOC_FSSETXATTR (file-write-flags).
const IOCTL_FLAGS: [u32; 3] = [0x4008_6602, 0x4004_6602, 0x401c_5820];

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
    /// An unconditional jump (32-bit offset).
    Goto(usize),
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
    Fcntl,
    Prlimit,
    Ioctl,
    Setrlimit,
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

    /// Resolves labels into offsets; `None` if a conditional jump does
    /// not fit 8 bits. A jump to a return goes to the next return
    /// instruction of that kind after it (each block ends with its own).
    fn assemble(self) -> Option<Vec<Insn>> {
        let mut at = vec![usize::MAX; self.labels];
        let mut returns: Vec<(usize, Ret)> = Vec::new();
        let mut pos = 0;
        for op in &self.ops {
            match *op {
                Op::Label(l) => at[l] = pos,
                Op::Return(r) => {
                    returns.push((pos, r));
                    pos += 1;
                }
                _ => pos += 1,
            }
        }
        let dest = |t: Target, pos: usize| -> Option<usize> {
            match t {
                Target::Next => Some(pos + 1),
                Target::Label(l) => Some(at[l]),
                Target::Ret(r) => {
                    let from = returns.partition_point(|&(p, _)| p <= pos);
                    returns[from..]
                        .iter()
                        .find(|&&(_, x)| x == r)
                        .map(|&(p, _)| p)
                }
            }
        };
        let offset = |t: Target, pos: usize| -> Option<u8> {
            u8::try_from(dest(t, pos)?.checked_sub(pos + 1)?).ok()
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
                Op::Goto(l) => Insn {
                    code: BPF_JMP_JA,
                    jt: 0,
                    jf: 0,
                    k: u32::try_from(at[l].checked_sub(pos + 1)?).ok()?,
                },
                Op::Jump { code, k, t, f } => Insn {
                    code,
                    jt: offset(t, pos)?,
                    jf: offset(f, pos)?,
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
}

impl Default for Filter {
    fn default() -> Self {
        Filter::new()
    }
}

/// Every syscall number with an action, sorted. `fork_allowed`: the
/// profile allows process-fork whatever the arguments, so forks need no
/// round trip.
fn table(fork_allowed: bool) -> Vec<(u32, Action)> {
    let mut t: Vec<(u32, Action)> = syscalls::INTERCEPTED
        .iter()
        .filter(|s| !(fork_allowed && s.kind == syscalls::Kind::Fork))
        .map(|s| {
            let action = match s.when {
                When::Always => Action::Ret(Ret::Notify),
                When::CloneUnlessThread => Action::Clone,
                When::PrctlCaps => Action::Prctl,
                When::FcntlSetown => Action::Fcntl,
                When::PrlimitChange => Action::Prlimit,
                When::IoctlFlags => Action::Ioctl,
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
        .chain(
            syscalls::PASSED
                .iter()
                .map(|&nr| (nr as u32, Action::Ret(Ret::Allow))),
        )
        .collect();
    if fork_allowed {
        for s in syscalls::INTERCEPTED {
            if s.kind == syscalls::Kind::Fork {
                t.push((s.nr as u32, Action::Ret(Ret::Allow)));
            }
        }
    }
    if syscalls::SECCOMP >= 0 {
        t.push((syscalls::SECCOMP as u32, Action::Seccomp));
    }
    if syscalls::SETRLIMIT >= 0 {
        t.push((syscalls::SETRLIMIT as u32, Action::Setrlimit));
    }
    t.sort_by_key(|&(nr, _)| nr);
    t
}

/// `table` as ranges `(first number, action)` covering every number from
/// 0: runs of numbers with one action merged, the gaps ENOSYS.
fn ranges(table: &[(u32, Action)]) -> Vec<(u32, Action)> {
    let mut out: Vec<(u32, Action)> = Vec::new();
    let mut add = |nr: u32, action: Action| {
        if out.last().map(|&(_, a)| a) != Some(action) {
            out.push((nr, action));
        }
    };
    let mut next = 0;
    for &(nr, action) in table {
        if nr > next {
            add(next, Action::Ret(Ret::Enosys));
        }
        add(nr, action);
        next = nr + 1;
    }
    add(next, Action::Ret(Ret::Enosys));
    out
}

impl Filter {
    /// Every syscall of the map goes to the supervisor.
    pub fn new() -> Filter {
        Filter::build(false)
    }

    /// As [`Filter::new`], but fork, vfork and clone pass without a round
    /// trip: for a profile that allows process-fork unconditionally and
    /// without a report. (A notified call is interruptible until the
    /// supervisor takes it, so a signal could fail a fork with EINTR where
    /// the kernel's own fork would restart; unnotified forks cannot.)
    pub fn forks_allowed() -> Filter {
        Filter::build(true)
    }

    fn build(fork_allowed: bool) -> Filter {
        let program =
            build(&table(fork_allowed)).expect("the filter's jumps fit in 8 bits (unit-tested)");
        Filter { program }
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
    let start = a.label();
    a.jump(
        BPF_JMP_JGE_K,
        NR_END,
        Target::Ret(Ret::Enosys),
        Target::Label(start),
    );
    a.ops.push(Op::Return(Ret::Kill));
    a.ops.push(Op::Return(Ret::Eperm));
    a.ops.push(Op::Return(Ret::Enosys));
    a.ops.push(Op::Label(start));
    tree(&mut a, &ranges(table));
    a.assemble()
}

/// A binary search over `(first number, action)` ranges, the syscall
/// number in the accumulator: each leaf is its action, inline.
fn tree(a: &mut Asm, ranges: &[(u32, Action)]) {
    if let [(_, action)] = ranges {
        leaf(a, *action);
        return;
    }
    let mid = ranges.len() / 2;
    let (left, right) = (a.label(), a.label());
    a.jump(
        BPF_JMP_JGE_K,
        ranges[mid].0,
        Target::Next,
        Target::Label(left),
    );
    a.ops.push(Op::Goto(right));
    a.ops.push(Op::Label(left));
    tree(a, &ranges[..mid]);
    a.ops.push(Op::Label(right));
    tree(a, &ranges[mid..]);
}

/// One action, ending in its own returns.
fn leaf(a: &mut Asm, action: Action) {
    let ret = Target::Ret;
    let (notify, allow, eperm) = (ret(Ret::Notify), ret(Ret::Allow), ret(Ret::Eperm));
    match action {
        Action::Ret(r) => a.ops.push(Op::Return(r)),
        // clone: a thread is not a fork.
        Action::Clone => {
            a.ops.push(Op::Load(arg_low(0)));
            a.jump(BPF_JMP_JSET_K, CLONE_THREAD, allow, notify);
        }
        // prctl: only the options that change capabilities at the next exec.
        Action::Prctl => {
            a.ops.push(Op::Load(arg_low(0)));
            for &option in &PRCTL_CAPS {
                a.jump(BPF_JMP_JEQ_K, option, notify, Target::Next);
            }
            a.ops.push(Op::Return(Ret::Allow));
        }
        // seccomp: no second listener.
        Action::Seccomp => {
            a.ops.push(Op::Load(arg_low(1)));
            a.jump(BPF_JMP_JSET_K, NEW_LISTENER, eperm, allow);
        }
        Action::Fcntl => {
            a.ops.push(Op::Load(arg_low(1)));
            a.jump(BPF_JMP_JEQ_K, F_SETOWN, notify, Target::Next);
            a.jump(BPF_JMP_JEQ_K, F_SETOWN_EX, eperm, allow);
        }
        // prlimit64(0, resource, NULL, old) only reads the caller's own.
        Action::Prlimit => {
            a.ops.push(Op::Load(arg_low(0)));
            a.jump(BPF_JMP_JEQ_K, 0, Target::Next, notify);
            a.ops.push(Op::Load(arg_low(2)));
            a.jump(BPF_JMP_JEQ_K, 0, Target::Next, notify);
            a.ops.push(Op::Load(arg_high(2)));
            a.jump(BPF_JMP_JEQ_K, 0, allow, notify);
        }
        Action::Ioctl => {
            a.ops.push(Op::Load(arg_low(1)));
            for &cmd in &IOCTL_REFUSED {
                a.jump(BPF_JMP_JEQ_K, cmd, eperm, Target::Next);
            }
            for &cmd in &IOCTL_FLAGS {
                a.jump(BPF_JMP_JEQ_K, cmd, notify, Target::Next);
            }
            a.ops.push(Op::Return(Ret::Allow));
        }
        // The hard core-dump limit stays 0 (a root process could raise it).
        Action::Setrlimit => {
            a.ops.push(Op::Load(arg_low(0)));
            a.jump(BPF_JMP_JEQ_K, RLIMIT_CORE, eperm, allow);
        }
    }
    if !matches!(action, Action::Ret(_)) {
        for r in Ret::ALL {
            a.ops.push(Op::Return(r));
        }
    }
}

/// Runs the program on one `seccomp_data` (for tests): the return value.
pub fn run(program: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    run_counted(program, arch, nr, args).0
}

/// [`run`], and how many instructions it executed.
fn run_counted(program: &[Insn], arch: u32, nr: u32, args: [u64; 6]) -> (u32, usize) {
    let word = |off: u32| -> u32 {
        match off {
            OFFSET_NR => nr,
            OFFSET_ARCH => arch,
            o if o >= 16 && (o - 16) % 8 == 0 => args[((o - 16) / 8) as usize] as u32,
            o if o >= 20 && (o - 20) % 8 == 0 => (args[((o - 20) / 8) as usize] >> 32) as u32,
            _ => 0,
        }
    };
    let mut acc = 0u32;
    let mut pc = 0usize;
    let mut steps = 0;
    while let Some(insn) = program.get(pc) {
        pc += 1;
        steps += 1;
        match insn.code {
            BPF_LD_W_ABS => acc = word(insn.k),
            BPF_RET_K => return (insn.k, steps),
            BPF_JMP_JA => pc += insn.k as usize,
            code => {
                let taken = match code {
                    BPF_JMP_JEQ_K => acc == insn.k,
                    BPF_JMP_JGE_K => acc >= insn.k,
                    BPF_JMP_JSET_K => acc & insn.k != 0,
                    _ => return (RET_KILL_PROCESS, steps),
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
        }
    }
    (RET_KILL_PROCESS, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(nr: i64, args: [u64; 6]) -> u32 {
        run(Filter::new().program(), AUDIT_ARCH_X86_64, nr as u32, args)
    }

    #[test]
    fn the_program_assembles_and_every_jump_is_forward() {
        for f in [Filter::new(), Filter::forks_allowed()] {
            let p = f.program();
            // BPF_MAXINSNS.
            assert!(p.len() <= 4096, "{} instructions", p.len());
            for (i, insn) in p.iter().enumerate() {
                let reach = match insn.code {
                    BPF_RET_K => continue,
                    BPF_LD_W_ABS => 0,
                    BPF_JMP_JA => insn.k as usize,
                    _ => insn.jt.max(insn.jf) as usize,
                };
                assert!(i + 1 + reach < p.len(), "{i}: {insn:?}");
            }
        }
    }

    /// The whole x86_64 number space (and past it): each number gets the
    /// action of the table that names it, and a number no table names is
    /// refused with ENOSYS.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn the_filter_is_an_allowlist() {
        let p = Filter::new();
        for nr in 0..1100u32 {
            let n = i64::from(nr);
            let want = if let Some(sc) = syscalls::lookup(n) {
                match sc.when {
                    When::Always => RET_USER_NOTIF,
                    _ => continue,
                }
            } else if syscalls::REFUSED.contains(&n) {
                RET_ERRNO | EPERM
            } else if syscalls::PASSED.contains(&n) {
                RET_ALLOW
            } else if n == syscalls::SECCOMP || n == syscalls::SETRLIMIT {
                continue;
            } else {
                RET_ERRNO | ENOSYS
            };
            assert_eq!(
                run(p.program(), AUDIT_ARCH_X86_64, nr, [0; 6]),
                want,
                "{nr}"
            );
        }
        assert_eq!(
            verdict(syscalls::nr::FILE_SETATTR, [0; 6]),
            RET_ERRNO | ENOSYS
        );
        assert_eq!(verdict(libc::SYS_fanotify_init, [0; 6]), RET_ERRNO | EPERM);
        // Every syscall pays for the search: it stays a few dozen
        // instructions at most (the kernel runs them on each call).
        let most = (0..600u32)
            .map(|nr| run_counted(p.program(), AUDIT_ARCH_X86_64, nr, [0; 6]).1)
            .max()
            .unwrap();
        assert!(most <= 30, "{most} instructions");
        eprintln!("at most {most} instructions per syscall");
        assert_eq!(verdict(libc::SYS_acct, [0; 6]), RET_ERRNO | EPERM);
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
        for nr in [libc::SYS_read, libc::SYS_write, libc::SYS_fstat, 0] {
            assert_eq!(verdict(nr, [0; 6]), RET_ALLOW, "{nr}");
        }
        for nr in [1000, 469, libc::SYS_kexec_load, libc::SYS_perf_event_open] {
            assert_eq!(verdict(nr, [0; 6]), RET_ERRNO | ENOSYS, "{nr}");
        }
        let fcntl = |cmd: i32, arg: u64| verdict(libc::SYS_fcntl, [3, cmd as u64, arg, 0, 0, 0]);
        assert_eq!(fcntl(libc::F_GETFL, 0), RET_ALLOW);
        assert_eq!(fcntl(10 /* F_SETSIG */, 9), RET_ALLOW);
        assert_eq!(fcntl(libc::F_SETOWN, 1), RET_USER_NOTIF);
        assert_eq!(fcntl(F_SETOWN_EX as i32, 1), RET_ERRNO | EPERM);
        let ioctl = |cmd: u64| verdict(libc::SYS_ioctl, [0, cmd, 0, 0, 0, 0]);
        assert_eq!(ioctl(libc::TCGETS), RET_ALLOW);
        for cmd in [0x8901u32, 0x8902, libc::TIOCSTI as u32] {
            assert_eq!(ioctl(u64::from(cmd)), RET_ERRNO | EPERM, "{cmd:#x}");
        }
        for cmd in IOCTL_FLAGS {
            assert_eq!(ioctl(u64::from(cmd)), RET_USER_NOTIF, "{cmd:#x}");
        }
        let prlimit = |pid: u64, new: u64| verdict(libc::SYS_prlimit64, [pid, 7, new, 0, 0, 0]);
        assert_eq!(prlimit(0, 0), RET_ALLOW);
        assert_eq!(prlimit(0, 1 << 40), RET_USER_NOTIF);
        assert_eq!(prlimit(0, 0x1000), RET_USER_NOTIF);
        assert_eq!(prlimit(42, 0), RET_USER_NOTIF);
        let setrlimit = |res: u64| verdict(libc::SYS_setrlimit, [res, 0x1000, 0, 0, 0, 0]);
        assert_eq!(setrlimit(libc::RLIMIT_CORE as u64), RET_ERRNO | EPERM);
        assert_eq!(setrlimit(libc::RLIMIT_NOFILE as u64), RET_ALLOW);
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
        let mut a = Asm::default();
        let far = a.label();
        a.jump(BPF_JMP_JEQ_K, 0, Target::Label(far), Target::Next);
        for _ in 0..300 {
            a.ops.push(Op::Return(Ret::Allow));
        }
        a.ops.push(Op::Label(far));
        a.ops.push(Op::Return(Ret::Kill));
        assert!(a.assemble().is_none());
    }
}
