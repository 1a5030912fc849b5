"""4. The init itself against tini, dumb-init and catatonit: binary size, start+exit, memory while it
supervises the stand-in server, and reaping 1000 orphans as PID 1."""
import json
import os
import shutil
import signal
import time

from common import FIXTURES, PYTHON, log
from procs import base_env, hyperfine, rm_tree, run, stop
from stats import Sample
from targets import Entrypoint, comfy_init, start_to_answer

ORPHANS = os.path.join(FIXTURES, "pid1", "orphans.py")


def measure(kit, target, home, runs):
    r = {"sizes": sizes(kit)}
    r["startexit"] = start_exit(kit, runs["startexit"])
    r["memory"], r["memory_order"] = memory(kit, target, home, runs["memory"])
    r["reap"], r["reap_order"] = reaping(kit, target, runs["orphans"])
    return r


def sizes(kit):
    inits = {"comfy-init": kit.bin, "tini": shutil.which("tini"), "tini-static": shutil.which("tini-static"),
             "dumb-init": shutil.which("dumb-init"), "catatonit": shutil.which("catatonit")}
    out = []
    for name, path in inits.items():
        if not path:
            continue
        desc = run(["file", "-b", path])
        out.append({"name": name, "path": path, "bytes": os.path.getsize(path),
                    "static": "statically linked" in desc, "stripped": ", stripped" in desc})
    return out


def start_exit(kit, n):
    """hyperfine -N: no shell between it and the init."""
    log(f"init: start+exit, hyperfine {n} runs each")
    cmds = [f"{kit.bin} version", "tini --version", "dumb-init --version", "catatonit --version"]
    return hyperfine(cmds, n, warmup=max(5, n // 10),
                     names=["comfy-init version", "tini --version", "dumb-init --version", "catatonit --version"])


def memory(kit, target, home, runs):
    """The init process's memory while it supervises the stand-in server: ({name: samples}, order)."""
    log(f"init: memory while supervising, {runs} runs each")
    py = [os.path.join(home, "venv", "bin", "python"), "main.py", "--listen", "127.0.0.1", "--port"]
    cwd = os.path.join(home, "ComfyUI")

    def sup(prefix):
        def make(port):
            env = base_env()
            env["PYTHONUNBUFFERED"] = "1"
            return prefix + py + [str(port), "--cpu"], env, cwd
        return make

    variants = [
        Entrypoint("comfy-init run", comfy_init(kit, target, home).make, signal.SIGTERM, home),
        Entrypoint("comfy-init supervise", sup([kit.bin, "supervise", "--"]), signal.SIGTERM),
        Entrypoint("tini -s", sup(["tini", "-s", "--"]), signal.SIGTERM),
        Entrypoint("dumb-init", sup(["dumb-init"]), signal.SIGTERM),
        Entrypoint("catatonit", sup(["catatonit", "--"]), signal.SIGTERM),
    ]
    mem = {ep.name: {"rss": Sample(), "private": Sample(), "dirty": Sample()} for ep in variants}
    for _ in range(runs):
        for ep in variants:
            _, proc, _ = start_to_answer(target, ep, "memory")
            time.sleep(0.2)
            fields = smaps_rollup(proc.pid)
            stop(proc, ep.stop_signal)
            mem[ep.name]["rss"].add(fields["Rss"])
            mem[ep.name]["dirty"].add(fields["Private_Dirty"])
            mem[ep.name]["private"].add(fields["Private_Clean"] + fields["Private_Dirty"])
    return mem, [ep.name for ep in variants]


def reaping(kit, target, runs):
    """1000 orphans reaped as PID 1 (unshare) and, for comfy-init, as a child subreaper: ({name: ...}, order)."""
    log(f"init: reaping 1000 orphans, {runs} runs each")
    report = os.path.join(target.dir, "orphans.json")
    orphans = [PYTHON, ORPHANS, "1000", report]
    pid1 = ["unshare", "--pid", "--fork", "--mount-proc"]
    variants = [
        ("comfy-init supervise (PID 1)", pid1 + [kit.bin, "supervise", "--"] + orphans),
        ("tini (PID 1)", pid1 + ["tini", "--"] + orphans),
        ("dumb-init (PID 1)", pid1 + ["dumb-init"] + orphans),
        ("catatonit (PID 1)", pid1 + ["catatonit", "--"] + orphans),
        ("comfy-init supervise (subreaper, not PID 1)", [kit.bin, "supervise", "--"] + orphans),
    ]
    reap = {name: {"seconds": Sample(), "zombies": [], "adopted": [], "wall": Sample()} for name, _ in variants}
    for _ in range(runs):
        for name, cmd in variants:
            rm_tree(report)
            t0 = time.monotonic()
            run(cmd, env=base_env(), timeout=120)
            reap[name]["wall"].add(time.monotonic() - t0)
            data = json.load(open(report))
            reap[name]["seconds"].add(data["seconds"])
            reap[name]["zombies"].append(data["zombies"] + data["left"])
            reap[name]["adopted"].append(data["adopted"])
    return reap, [n for n, _ in variants]


def smaps_rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields
