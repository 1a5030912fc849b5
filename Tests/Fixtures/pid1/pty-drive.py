#!/usr/bin/env python3
"""`docker run -it` without Docker: runs CMD on a fresh pseudo-terminal and types Ctrl-C into it.

usage: pty-drive.py REPORT READY RECORD ctrl-c|ctrl-c-then-term -- CMD...
CMD (unshare ... setsid --ctty comfy-init supervise -- record-signals.py RECORD READY ...) starts
with the pty slave as stdin/stdout/stderr, in a session of its own; `setsid --ctty` inside the PID
namespace makes PID 1 the session leader that owns the terminal, as Docker does with -t. TOSTOP is
set, so a background process that writes to the terminal gets SIGTTOU (Docker's default is off:
this is the stricter case). Once READY exists, the driver notes the terminal's foreground group,
then writes ^C and waits for RECORD to show it.
  ctrl-c            then waits for CMD to end
  ctrl-c-then-term  then sends SIGTERM to PID 1 (`docker stop`), waits for CMD to end
Meanwhile it polls PID 1's state: "T" would mean it was stopped (SIGTTOU/SIGTTIN/SIGTSTP).
REPORT gets JSON: exit status, terminal output, foreground group vs. PID 1's and the child's
groups, the states PID 1 was seen in, the record.
"""
import glob
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time


def children(pid):
    kids = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                kids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return kids


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return {"state": fields[0], "pgrp": int(fields[2]), "session": int(fields[3])}


def main():
    report, ready, record, mode = sys.argv[1:5]
    cmd = sys.argv[6:]
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] |= termios.TOSTOP
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    output = bytearray()
    states = set()
    result = {"mode": mode}
    init = None
    deadline = time.monotonic() + 20

    def pump(timeout=0.005):
        nonlocal init
        r, _, _ = select.select([master], [], [], timeout)
        if r:
            try:
                output.extend(os.read(master, 4096))
            except OSError:
                pass  # EIO: the terminal's last holder is gone
        if init is None:
            kids = children(proc.pid)
            init = kids[0] if kids else None
        if init is not None:
            s = stat(init)
            if s:
                states.add(s["state"])

    def wait_for(condition):
        while not condition() and time.monotonic() < deadline:
            pump()
        return condition()

    def recorded():
        try:
            with open(record) as f:
                return f.read().split("\n")
        except FileNotFoundError:
            return []

    if wait_for(lambda: os.path.exists(ready) and init is not None):
        child = [k for k in children(init)][0]
        result["foreground_pgrp"] = os.tcgetpgrp(master)
        result["init_pgrp"] = stat(init)["pgrp"]
        result["child_pgrp"] = stat(child)["pgrp"]
        result["init_is_session_leader"] = stat(init)["session"] == init
        os.write(master, b"\x03")
        if wait_for(lambda: "child 2" in recorded()) and mode == "ctrl-c-then-term":
            os.kill(init, signal.SIGTERM)
        wait_for(lambda: proc.poll() is not None)
    if proc.poll() is None:
        result["timeout"] = True
        proc.kill()  # unshare --kill-child takes PID 1, and so the namespace, with it
        proc.wait()
    pump(0)
    while True:  # what is left on the terminal
        r, _, _ = select.select([master], [], [], 0)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output.extend(chunk)
    result.update(exit=proc.returncode, output=output.decode(errors="replace"), init_states=sorted(states),
                  record=[line for line in recorded() if line])
    with open(report, "w") as f:
        json.dump(result, f)


main()
