#!/usr/bin/env python3
"""PID-1 scenario child: reports the state it was started in, as JSON in OUT.

usage: report-state.py OUT [ARGS...]
argv (ARGS), environ as exec'd (/proc/self/environ, untouched by Python), cwd, all of stdin,
the open fds with their targets, the signal mask and pending sets (/proc/self/status), and its
process group and session. (Python itself ignores SIGPIPE/SIGXFSZ, so dispositions are checked
with a non-Python child.)
"""
import json
import os
import sys


def main():
    out = sys.argv[1]
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the directory listdir had open
    with open("/proc/self/environ", "rb") as f:
        environ = [e.decode() for e in f.read().split(b"\0") if e]
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    stdin = sys.stdin.buffer.read().decode()
    result = {
        "argv": sys.argv[2:], "environ": environ, "cwd": os.getcwd(), "stdin": stdin, "fds": fds,
        "sig_blk": status["SigBlk"], "sig_pnd": status["SigPnd"], "shd_pnd": status["ShdPnd"],
        "pid": os.getpid(), "pgid": os.getpgrp(), "sid": os.getsid(0),
    }
    with open(out, "w") as f:
        json.dump(result, f)


main()
