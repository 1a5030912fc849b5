#!/usr/bin/env python3
"""PID-1 scenario child: records every signal it receives, one line "<role> <signo>" each.

usage: record-signals.py RECORD READY DONE [--grandchild] [--die-on N]... [--ignore N]...
  RECORD        file the lines are appended to (O_APPEND: child and grandchild share it)
  READY         created once every handler is installed (the grandchild's too); holds "role pid" lines
  DONE          the child (and grandchild) exit 0 once this file exists (polled every 10 ms)
  --grandchild  fork a grandchild first (same process group) that records too, as "grandchild"
  --die-on N    after recording N, die of N (the child first waits for the grandchild)
  --ignore N    SIG_IGN for N instead of a recording handler
Every catchable signal 1-31 but CHLD gets a handler (KILL and STOP cannot).
"""
import os
import signal
import sys
import time

CATCHABLE = [n for n in range(1, 32) if n not in (signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP)]


def option_values(opts, name):
    return {int(opts[i + 1]) for i, o in enumerate(opts) if o == name}


def main():
    record, ready, done = sys.argv[1:4]
    opts = sys.argv[4:]
    die_on = option_values(opts, "--die-on")
    ignore = option_values(opts, "--ignore")
    role, grandchild = "child", None
    ready_r = ready_w = -1
    if "--grandchild" in opts:
        ready_r, ready_w = os.pipe()
        grandchild = os.fork()
        if grandchild == 0:
            role, grandchild = "grandchild", None
            os.close(ready_r)

    def handler(signo, _frame):
        fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{role} {signo}\n".encode())
        os.close(fd)
        if signo in die_on:
            if grandchild:
                os.waitpid(grandchild, 0)
            signal.signal(signo, signal.SIG_DFL)
            os.kill(os.getpid(), signo)
            os._exit(128 + signo)  # a signal whose default is to ignore (URG, WINCH, CONT)

    for n in CATCHABLE:
        signal.signal(n, signal.SIG_IGN if n in ignore else handler)

    if role == "grandchild":
        os.write(ready_w, f"grandchild {os.getpid()}\n".encode())
        os.close(ready_w)
    else:
        lines = f"child {os.getpid()}\n"
        if grandchild:
            os.close(ready_w)
            with os.fdopen(ready_r) as r:
                lines += r.read()
        tmp = ready + ".tmp"
        with open(tmp, "w") as f:
            f.write(lines)
        os.rename(tmp, ready)

    while not os.path.exists(done):
        time.sleep(0.01)
    if grandchild:
        os.waitpid(grandchild, 0)
    os._exit(0)


main()
