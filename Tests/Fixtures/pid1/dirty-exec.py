#!/usr/bin/env python3
"""Execs a command in a dirty state, to show that the init cleans up before its child starts.

usage: dirty-exec.py CMD [ARGS...]   (CMD: an absolute path)
Ignores SIGHUP, SIGUSR1 and SIGPIPE, blocks SIGUSR2 and SIGALRM (both survive execve), and leaves
fds 7 (/dev/null) and 8 (a pipe) open without close-on-exec. The environment passes unchanged.
"""
import os
import signal
import sys

for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGPIPE):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGALRM})
null = os.open("/dev/null", os.O_RDONLY)
os.dup2(null, 7)
r, w = os.pipe()
os.dup2(w, 8)
with open("/proc/self/environ", "rb") as f:
    env = dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if e)
os.execve(sys.argv[1], sys.argv[1:], env)
