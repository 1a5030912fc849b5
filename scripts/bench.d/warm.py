"""1. Warm start: everything installed, process start to the first HTTP answer for python main.py
straight, comfy-init and the bash baseline; each entrypoint's own time from its exec to the server's
exec (stamp.c stands in for VENV/bin/python); the bearer token across restarts."""
import contextlib
import os
import re
import subprocess

from common import BenchError, log
from procs import free_port, kill_tree, last_log_seconds, rm_tree, run, start, stop, tail
from stats import Sample
from targets import baseline, comfy_init, read_token, start_to_answer, straight


def measure(kit, target, runs, homes):
    """The stand-in's section 1: warm starts, own times (also with comfy-init's home on tmpfs), tokens."""
    res = {"warm": warm(kit, target, runs["warm"], homes)}
    shm = tmpfs_home(kit, target)
    try:
        res["overhead"] = overhead(kit, target, runs["overhead"], homes, shm)
    finally:
        if shm:
            rm_tree(shm)
    res["tokens"] = token_drift(kit, target, homes)
    return res


def warm(kit, target, runs, homes):
    ci_home, bl_home = homes
    eps = [straight(target, ci_home), comfy_init(kit, target, ci_home), baseline(target, bl_home)]
    log(f"{target.key}: warm start, {runs} runs of {len(eps)} entrypoints (+1 warm-up round)")
    times = {ep.name: Sample() for ep in eps}
    stops = {ep.name: Sample() for ep in eps}
    codes = {ep.name: set() for ep in eps}
    lost = {ep.name: 0 for ep in eps}
    bootstrap = Sample()
    for i in range(runs + 1):
        for ep in eps:
            tag = "warm-" + ep.name.split()[0]
            seconds, proc, _ = start_to_answer(target, ep, tag)
            dt, code = stop(proc, ep.stop_signal, target.settle)
            lost[ep.name] += proc.signal_lost
            if i == 0:
                continue  # warm-up: page cache, .pyc files
            times[ep.name].add(seconds)
            stops[ep.name].add(dt)
            codes[ep.name].add(code)
            if ep.name == "comfy-init":
                b = last_log_seconds(proc.log_path, r"comfy-init: bootstrap: done in (\S+ m?s)")
                if b is not None:
                    bootstrap.add(b)
    return {"times": times, "stops": stops, "codes": {k: sorted(v) for k, v in codes.items()},
            "bootstrap": bootstrap, "lost": lost, "order": [ep.name for ep in eps]}


@contextlib.contextmanager
def stamp_python(venv, stamp):
    """VENV/bin/python becomes stamp.c: `python main.py` records the clock and exits, the rest runs on."""
    bindir = os.path.join(venv, "bin")
    python = os.path.join(bindir, "python")
    real = os.path.realpath(python)
    saved = {}
    for name in os.listdir(bindir):
        p = os.path.join(bindir, name)
        if name.startswith("python") and os.path.islink(p):
            saved[name] = os.readlink(p)
    try:
        for name in saved:
            if name != "python":
                os.remove(os.path.join(bindir, name))
                os.symlink(real, os.path.join(bindir, name))
        if "python3" not in saved:
            os.symlink(real, os.path.join(bindir, "python3"))
        os.remove(python)
        os.symlink(stamp, python)
        yield
    finally:
        for name in os.listdir(bindir):
            if name.startswith("python") and os.path.islink(os.path.join(bindir, name)):
                os.remove(os.path.join(bindir, name))
        for name, dest in saved.items():
            os.symlink(dest, os.path.join(bindir, name))


def overhead(kit, target, runs, homes, tmpfs_home=None):
    """Each entrypoint's time from its exec to the server's exec, with stamp.c as the server's python.
    With tmpfs_home (a bootstrapped home on tmpfs), comfy-init once more there: fsync costs nothing."""
    ci_home, bl_home = homes
    log(f"{target.key}: exec-to-exec overhead, {runs} runs each (+1 warm-up)")
    eps = [("comfy-init", comfy_init(kit, target, ci_home), ci_home),
           ("bash baseline", baseline(target, bl_home), bl_home)]
    if tmpfs_home:
        eps.append(("comfy-init, home on tmpfs", comfy_init(kit, target, tmpfs_home), tmpfs_home))
    result = {name: Sample() for name, _, _ in eps}
    stamps = os.path.join(target.dir, "stamps")
    with contextlib.ExitStack() as stack:
        for venv in sorted({os.path.realpath(os.path.join(home, "venv")) for _, _, home in eps}):
            stack.enter_context(stamp_python(venv, kit.stamp))
        for i in range(runs + 1):
            for name, ep, _ in eps:
                rm_tree(stamps)
                cmd, env, cwd = ep.make(free_port())
                env["BENCH_STAMP_FILE"] = stamps
                log_path = target.logpath("overhead-" + re.sub(r"\W+", "-", name))
                proc = start([kit.stamp, "launch", stamps] + cmd, env, log_path, cwd)
                try:
                    rc = proc.wait(600)
                except subprocess.TimeoutExpired:
                    kill_tree(proc)
                    raise BenchError(f"{name} with the stamp python did not finish; see {log_path}")
                lines = open(stamps).read().split() if os.path.exists(stamps) else []
                if rc != 0 or len(lines) != 2:
                    raise BenchError(f"{name} with the stamp python: exit {rc}, stamps {lines}; "
                                     f"log {log_path}:\n{tail(log_path)}")
                if i:
                    result[name].add((int(lines[1]) - int(lines[0])) / 1e9)
    return result


def token_drift(kit, target, homes, restarts=3):
    """The bearer token (line 1 of login/PASSWORD) after each of a few restarts, per entrypoint."""
    ci_home, bl_home = homes
    out = {}
    for name, ep, home in (("comfy-init", comfy_init(kit, target, ci_home), ci_home),
                           ("bash baseline", baseline(target, bl_home), bl_home)):
        tokens = []
        for _ in range(restarts):
            _, proc, _ = start_to_answer(target, ep, "tokens-" + name.split()[-1])
            tokens.append(read_token(home))
            stop(proc, ep.stop_signal, target.settle)
        out[name] = len(set(tokens))
    return out


def tmpfs_home(kit, target):
    """A bootstrapped comfy-init home on /dev/shm (tmpfs), or None where there is none."""
    shm = "/dev/shm"
    if not os.path.isdir(shm) or os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize < 1 << 30:
        return None
    home = os.path.join(shm, f"comfy-init-bench-{os.getpid()}")
    rm_tree(home)
    run([kit.bin, "bootstrap"], env=target.env(home, free_port()))
    return home
