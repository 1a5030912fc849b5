#!/usr/bin/env python3
"""PID-1 scenario child: makes COUNT orphans for the init to adopt and reap.

usage: orphans.py COUNT REPORT
An intermediate process forks COUNT children and exits at once, so the kernel reparents them to
the init (this process's parent: PID 1, or comfy-init as child subreaper). They block on a pipe
until released, then all exit together. REPORT gets JSON: how many the init adopted, and how many
are still zombies (exited, unreaped) once every orphan is gone or 10 s have passed.
"""
import json
import os
import sys
import time


def state_and_ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def main():
    count, report = int(sys.argv[1]), sys.argv[2]
    init = os.getppid()
    release_r, release_w = os.pipe()
    pids_r, pids_w = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        os.close(release_w)
        os.close(pids_r)
        pids = []
        for _ in range(count):
            pid = os.fork()
            if pid == 0:
                os.close(pids_w)
                os.read(release_r, 1)  # EOF once the main child closes the write end
                os._exit(0)
            pids.append(pid)
        os.write(pids_w, " ".join(map(str, pids)).encode())
        os._exit(0)
    os.close(release_r)
    os.close(pids_w)
    os.waitpid(intermediate, 0)  # from here on the orphans' parent is the init
    with os.fdopen(pids_r) as r:
        pids = [int(p) for p in r.read().split()]
    adopted = sum(1 for p in pids if (state_and_ppid(p) or ("", 0))[1] == init)

    started = time.monotonic()
    os.close(release_w)
    left = pids
    while left and time.monotonic() - started < 10:
        left = [p for p in left if (s := state_and_ppid(p)) is not None and s[1] == init]
        if left:
            time.sleep(0.005)
    zombies = sum(1 for p in left if (state_and_ppid(p) or ("",))[0] == "Z")
    result = {"init": init, "orphans": len(pids), "adopted": adopted, "left": len(left), "zombies": zombies,
              "seconds": round(time.monotonic() - started, 3)}
    with open(report, "w") as f:
        json.dump(result, f)
    return 0


sys.exit(main())
