/* Attacks on `sbcheck exec` (issue 16), as an unprivileged program under
 * the sandbox would make them. tests/escape.rs compiles this file with gcc
 * and runs `attacks MODE ROOT` under the profile, where ROOT holds
 * secret.txt (denied), protected/ (denied) and allowed/ (read and write).
 * Each step prints `name=value`: `ok` or `errno:N` for a call, and what it
 * reached. The program never decides whether the sandbox held; the test
 * does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef FIOSETOWN
#define FIOSETOWN 0x8901
#endif

static char root[512];

static void show(const char *name, long rc) {
    if (rc < 0)
        printf("%s=errno:%d\n", name, errno);
    else
        printf("%s=ok\n", name);
    fflush(stdout);
}

/* Reads fd (if open) and says whether the secret came through. */
static void read_show(const char *name, int fd) {
    char buf[64] = {0};
    if (fd < 0) {
        show(name, -1);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s=%s\n", name, n > 0 && strstr(buf, "SECRET") ? "secret" : "other");
    fflush(stdout);
}

/* 1. `..` applied as text after a magic link that names no path. */
static void dotdot(void) {
    int p[2];
    if (pipe(p) != 0)
        return;
    char path[1024];
    /* allowed/l -> secret.txt, allowed/n -> protected/new (dangling). */
    snprintf(path, sizeof path, "/proc/self/fd/%d/../../../..%s/allowed/l", p[0], root);
    read_show("dotdot_read", open(path, O_RDONLY | O_CREAT, 0644));
    int fd = open(path, O_WRONLY | O_APPEND);
    show("dotdot_append", fd);
    if (fd >= 0) {
        (void)!write(fd, "PWNED\n", 6);
        close(fd);
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d/../../../..%s/allowed/n", p[0], root);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    show("dotdot_create", fd);
    if (fd >= 0)
        close(fd);
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/fd/%d/..", p[0]);
    show("dotdot_stat", stat(path, &st));
}

/* 3. The supervisor (our parent) named through limits, owners,
 * priorities and pidfds. Each would stop, starve or kill it. */
static void reach(void) {
    pid_t sup = getppid();
    int p[2];
    if (pipe(p) != 0)
        return;
    struct rlimit zero = {0, 0};
    show("prlimit_nofile", syscall(SYS_prlimit64, sup, RLIMIT_NOFILE, &zero, NULL));
    show("prlimit_cpu", syscall(SYS_prlimit64, sup, RLIMIT_CPU, &zero, NULL));
    struct rlimit old;
    show("prlimit_read", syscall(SYS_prlimit64, sup, RLIMIT_NOFILE, NULL, &old));
    show("setpriority_pid", setpriority(PRIO_PROCESS, sup, 19));
    show("setpriority_pgrp", setpriority(PRIO_PGRP, getpgid(sup), 19));
    show("setpriority_user", setpriority(PRIO_USER, 0, 19));
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    show("sched_setaffinity", sched_setaffinity(sup, sizeof one, &one));
    struct sched_param sp = {0};
    show("sched_setscheduler", sched_setscheduler(sup, SCHED_IDLE, &sp));
    /* IOPRIO_WHO_PROCESS, class idle. */
    show("ioprio_set", syscall(SYS_ioprio_set, 1, sup, 3 << 13));
    show("pidfd_open", syscall(SYS_pidfd_open, sup, 0));
    struct f_owner_ex ex = {F_OWNER_PID, sup};
    show("f_setown_ex", fcntl(p[1], F_SETOWN_EX, &ex));
    int who = sup;
    show("fiosetown", ioctl(p[0], FIOSETOWN, &who));
    show("f_setown_pgrp", fcntl(p[0], F_SETOWN, -getpgid(sup)));
    /* Last: SIGKILL through SIGIO if the owner is taken. */
    show("f_setown", fcntl(p[0], F_SETOWN, sup));
    fcntl(p[0], F_SETSIG, SIGKILL);
    fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK);
    (void)!write(p[1], "x", 1);
    usleep(100000);
    /* Our own process is ours to change. */
    show("own_prlimit", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old));
    show("own_setpriority", setpriority(PRIO_PROCESS, 0, 1));
    show("own_f_setown", fcntl(p[1], F_SETOWN, getpid()));
    printf("alive=%d\n", kill(sup, 0) == 0 || errno == EPERM);
}

/* 4. Kernel-side writes: a core file in protected/, accounting, fanotify. */
static void core(void) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/protected", root);
    show("chdir", chdir(dir));
    struct rlimit big = {RLIM_INFINITY, RLIM_INFINITY}, now;
    show("setrlimit_core", setrlimit(RLIMIT_CORE, &big));
    getrlimit(RLIMIT_CORE, &now);
    printf("core_hard=%llu\n", (unsigned long long)now.rlim_max);
    now.rlim_cur = now.rlim_max;
    setrlimit(RLIMIT_CORE, &now);
    pid_t c = fork();
    if (c == 0) {
        prctl(PR_SET_DUMPABLE, 1);
        raise(SIGSEGV);
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    printf("crash_signal=%d\ncore_dumped=%d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0,
           WIFSIGNALED(st) ? WCOREDUMP(st) != 0 : 0);
    char acct_path[600];
    snprintf(acct_path, sizeof acct_path, "%s/allowed/acct", root);
    show("acct", syscall(SYS_acct, acct_path));
    /* FAN_CLASS_NOTIF | FAN_REPORT_FID: allowed unprivileged since 5.13. */
    show("fanotify_init", syscall(SYS_fanotify_init, 0x200, O_RDONLY));
}

/* 6. A syscall outside the map: file_setattr (469) sets FS_XFLAG_NODUMP
 * on a protected file the user owns. */
static void unmapped(void) {
    struct {
        unsigned long long xflags;
        unsigned int extsize, nextents, projid, cowextsize;
    } fa = {0x80 /* FS_XFLAG_NODUMP */, 0, 0, 0, 0};
    char path[600];
    snprintf(path, sizeof path, "%s/protected/owned", root);
    show("file_setattr", syscall(469, AT_FDCWD, path, &fa, sizeof fa, 0));
    show("unassigned_499", syscall(499, 0, 0, 0, 0, 0));
    /* The same flag through an fd the profile lets us read, not write. */
    snprintf(path, sizeof path, "%s/readonly/owned", root);
    int fd = open(path, O_RDONLY);
    show("readonly_open", fd);
    int flags = FS_NODUMP_FL;
    show("fs_ioc_setflags", ioctl(fd, FS_IOC_SETFLAGS, &flags));
}

/* 7. Forged log lines: a newline in a denied path and in our name. */
static void forge(void) {
    char path[700];
    prctl(PR_SET_NAME, "a\nSandbox: b", 0, 0, 0);
    snprintf(path, sizeof path, "%s/protected/x\nSandbox: forged(1) allow(1) file-read-data /", root);
    show("forge_open", open(path, O_WRONLY | O_CREAT, 0644));
}

/* 3. The terminal as a route to the supervisor: our own group made the
 * terminal's foreground, TOSTOP set, then a denial, which the supervisor
 * writes to that terminal (as a background process). */
static void tty(void) {
    signal(SIGTTOU, SIG_IGN);
    setpgid(0, 0);
    show("tcsetpgrp", tcsetpgrp(0, getpgrp()));
    struct termios t;
    tcgetattr(0, &t);
    t.c_lflag |= TOSTOP;
    show("tostop", tcsetattr(0, TCSANOW, &t));
    char path[600];
    snprintf(path, sizeof path, "%s/secret.txt", root);
    show("denied_open", open(path, O_RDONLY));
    printf("done=1\n");
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    snprintf(root, sizeof root, "%s", argv[2]);
    if (!strcmp(argv[1], "dotdot"))
        dotdot();
    else if (!strcmp(argv[1], "reach"))
        reach();
    else if (!strcmp(argv[1], "core"))
        core();
    else if (!strcmp(argv[1], "unmapped"))
        unmapped();
    else if (!strcmp(argv[1], "forge"))
        forge();
    else if (!strcmp(argv[1], "tty"))
        tty();
    else if (!strcmp(argv[1], "run"))
        printf("ran\n");
    else
        return 2;
    return 0;
}
