#!/usr/bin/env python3
"""PID-1 scenario child: the main child and other children of the init die at the same moment.

usage: race.py exit|killpg SIBLINGS
An intermediate forks SIBLINGS processes and exits, so they become the init's children too (same
process group as this one). They block on a pipe; then
  exit    this process closes the pipe and exits 42 at once; the siblings wake and exit 7
  killpg  this process SIGKILLs its own process group: itself and every sibling in one call
"""
import os
import signal
import sys


def main():
    mode, count = sys.argv[1], int(sys.argv[2])
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        os.close(go_w)
        os.close(ready_r)
        for _ in range(count):
            if os.fork() == 0:
                os.close(ready_w)
                os.read(go_r, 1)
                os._exit(7)
        os._exit(0)
    os.close(go_r)
    os.close(ready_w)
    os.waitpid(intermediate, 0)
    os.read(ready_r, 1)  # EOF: every sibling is forked (each closed its copy)
    if mode == "killpg":
        os.killpg(0, signal.SIGKILL)
    os.close(go_w)
    os._exit(42)


main()
