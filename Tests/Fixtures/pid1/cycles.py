#!/usr/bin/env python3
"""PID-1 scenario child: many start/exit cycles under one init; reports what the init holds after.

usage: cycles.py COUNT REPORT [COMFY_INIT]
  1. COUNT times: an intermediate forks a short-lived process and exits, so the init adopts and
     reaps COUNT orphans (their SIGCHLDs often coalesce). Then waits (up to 10 s) until the init
     has no child left but this one.
  2. With COMFY_INIT: COUNT sequential `COMFY_INIT supervise -- true` runs, each must exit 0.
REPORT gets JSON: the init's open fds before and after, its children and zombies after, the
seconds each phase took.
"""
import glob
import json
import os
import sys
import time


def fds(pid):
    result = {}
    for path in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            result[os.path.basename(path)] = os.readlink(path)
        except OSError:
            pass
    return result


def children(pid):
    kids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(path) as f:
            kids += [int(p) for p in f.read().split()]
    return kids


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
        return text[text.rindex(")") + 2]
    except OSError:
        return None


def main():
    count, report = int(sys.argv[1]), sys.argv[2]
    comfy_init = sys.argv[3] if len(sys.argv) > 3 else None
    init, me = os.getppid(), os.getpid()
    fds_before = fds(init)

    started = time.monotonic()
    for _ in range(count):
        intermediate = os.fork()
        if intermediate == 0:
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
        os.waitpid(intermediate, 0)
    deadline = time.monotonic() + 10
    while [p for p in children(init) if p != me] and time.monotonic() < deadline:
        time.sleep(0.005)
    orphan_seconds = time.monotonic() - started

    failures = 0
    started = time.monotonic()
    if comfy_init:
        for _ in range(count):
            pid = os.posix_spawn(comfy_init, [comfy_init, "supervise", "--", "/bin/true"], os.environ)
            _, status = os.waitpid(pid, 0)
            failures += status != 0
    supervise_seconds = time.monotonic() - started

    others = [p for p in children(init) if p != me]
    result = {
        "fds_before": fds_before, "fds_after": fds(init), "children_after": len(others),
        "zombies_after": sum(1 for p in others if state(p) == "Z"), "supervise_failures": failures,
        "orphan_seconds": round(orphan_seconds, 3), "supervise_seconds": round(supervise_seconds, 3),
    }
    with open(report, "w") as f:
        json.dump(result, f)


main()
