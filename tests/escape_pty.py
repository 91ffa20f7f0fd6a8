# Runs argv[1:] on a new pseudo-terminal (its session's controlling
# terminal) for tests/escape.rs; prints what the terminal showed, then
# `status=N` (None when it had not ended after 20 s and was killed).
import os
import pty
import select
import signal
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    # As a job-control shell runs a command: the session leader stays, the
    # command gets its own process group, made the terminal's foreground
    # (so the group is not orphaned, and a background write with TOSTOP
    # stops its writer instead of failing).
    job = os.fork()
    if job == 0:
        os.setpgid(0, 0)
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(0, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.execv(sys.argv[1], sys.argv[1:])
    # A shell ignores SIGTTOU; so does this one, to report what happened.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    _, st = os.waitpid(job, os.WUNTRACED)
    if os.WIFSTOPPED(st):
        print("\nstopped=%d" % os.WSTOPSIG(st), flush=True)
        os.kill(job, 9)
        os.waitpid(job, 0)
        os._exit(99)
    os._exit(os.waitstatus_to_exitcode(st))
out, end, status = b"", time.time() + 20, None
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            pass
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = os.waitstatus_to_exitcode(st)
        break
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("\nstatus=%s" % status)
