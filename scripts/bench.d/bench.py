#!/usr/bin/env python3
"""scripts/bench: comfy-init's benchmark suite (issue 5). Python 3 standard library only.

On the stand-in ComfyUI of Tests/Fixtures (and with --real DIR on the real ComfyUI that
../shared/tools/real-comfyui.sh prepares) it measures:
  1. warm start to the first HTTP answer: python main.py straight (the floor), comfy-init, and the
     bash baseline (scripts/bench.d/baseline-entrypoint.sh); and each entrypoint's own time from its
     exec to the server's exec (scripts/bench.d/stamp.c stands in for VENV/bin/python);
  2. cold start from an empty home and a local wheel folder: comfy-init with pip, with uv, the baseline;
  3. `docker stop` time and exit code: comfy-init, the exec'd Python, tini, dumb-init, catatonit;
  4. the init itself: binary size, memory while supervising, start+exit, reaping 1000 orphans;
  5. the health check: comfy-init health, curl, a Python one-liner;
  6. bcrypt at cost 12: comfy-init against Python's bcrypt.
Every figure is the median of several runs with min and max. Variants are interleaved run by run,
and every ratio compares medians measured in the same invocation.
Work files go to bench-out/ (git-ignored); the report to BENCHMARKS.md, the chart to docs/.
"""
import argparse
import contextlib
import datetime
import fcntl
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "scripts", "bench.d")
OUT = os.path.join(ROOT, "bench-out")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
WHEELS = os.path.join(ROOT, ".cache", "wheels")
BASELINE = os.path.join(HERE, "baseline-entrypoint.sh")
ORPHANS = os.path.join(FIXTURES, "pid1", "orphans.py")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's python3, never a pyenv shim
PYTHON = "/usr/bin/python3"
PASSWORD = "bench-password"
REAL_BEGIN = "<!-- real-comfyui:begin -->"
REAL_END = "<!-- real-comfyui:end -->"

# Repetitions. Quick keeps at least 2 (3 where cheap) so every figure still has a min and a max.
RUNS = {
    "full": dict(warm=15, overhead=15, cold=4, stop=5, memory=3, startexit=200, orphans=5, health=50, bcrypt=8,
                 real_warm=7, real_overhead=3),
    "quick": dict(warm=3, overhead=3, cold=2, stop=2, memory=2, startexit=30, orphans=2, health=10, bcrypt=3,
                  real_warm=3, real_overhead=2),
}


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---- statistics and formatting -----------------------------------------------------------------

class Sample:
    """Several measurements of one thing."""

    def __init__(self, values=None):
        self.values = list(values or [])

    def add(self, v):
        self.values.append(v)

    @property
    def n(self):
        return len(self.values)

    @property
    def median(self):
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def min(self):
        return min(self.values) if self.values else float("nan")

    @property
    def max(self):
        return max(self.values) if self.values else float("nan")

    def to_json(self):
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n, "values": self.values}


def fmt_s(seconds):
    """Seconds, to 3 significant figures, in us / ms / s."""
    if seconds != seconds:
        return "-"
    a = abs(seconds)
    if a < 0.9995e-3:
        return f"{seconds * 1e6:.3g} µs"
    if a < 0.9995:
        v = seconds * 1e3
        return f"{v:.3g} ms" if a < 0.1 else f"{v:.0f} ms"
    return f"{seconds:.3g} s" if a < 100 else f"{seconds:.0f} s"


def fmt_signed(seconds):
    return ("+" if seconds >= 0 else "−") + fmt_s(abs(seconds))


def fmt_bytes(n):
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n} B"


def fmt_ratio(x):
    if x != x or x in (float("inf"), float("-inf")):
        return "-"
    return f"{x:.3g}×" if x < 100 else f"{x:.0f}×"


def cells(sample, fmt=fmt_s):
    return [fmt(sample.median), fmt(sample.min), fmt(sample.max), str(sample.n)]


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- processes ---------------------------------------------------------------------------------

STARTED = []  # Popen objects this run started, for cleanup
CONTAINERS = []  # docker containers this run started


def base_env(path=SYSTEM_PATH):
    """PATH, HOME and LANG only: no PIP_* or PYTHON* settings of the machine leak in."""
    return {"PATH": path, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, env, log_path, cwd=None):
    logf = open(log_path, "ab")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    logf.close()
    proc.log_path = log_path
    STARTED.append(proc)
    return proc


def tail(path, n=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def wait_http(port, proc, timeout, host="127.0.0.1"):
    """Monotonic time of the first HTTP answer (any status) on host:port, polling every 2 ms."""
    deadline = time.monotonic() + timeout
    request = f"GET /system_stats HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode()
    while True:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with {proc.returncode} before answering; "
                             f"log {proc.log_path}:\n{tail(proc.log_path)}")
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(request)
                data = s.recv(16)
                if data.startswith(b"HTTP/"):
                    answered = time.monotonic()
                    # Read the whole answer: closing early resets the connection under the server's
                    # writing thread, whose traceback can then abort a Python that is shutting down.
                    with contextlib.suppress(OSError):
                        while s.recv(65536):
                            pass
                    return answered
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"no HTTP answer on port {port} within {timeout} s"
                             + (f"; log {proc.log_path}:\n{tail(proc.log_path)}" if proc else ""))
        time.sleep(0.002)


def stop(proc, sig, settle=0.0, timeout=30, again_after=12):
    """Sends sig (after settle seconds), waits for the exit: (seconds, exit code as a shell shows it).
    A server that is still running again_after seconds later lost the signal (Python can swallow a
    KeyboardInterrupt, e.g. inside a weakref callback): it gets the signal once more, and
    proc.signal_lost records it."""
    if settle:
        time.sleep(settle)
    proc.signal_lost = False
    t0 = time.monotonic()
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(again_after)
    except subprocess.TimeoutExpired:
        proc.signal_lost = True
        log(f"{proc.args[0]} still runs {again_after} s after {signal.Signals(sig).name}; sending it again "
            f"(log {proc.log_path})")
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            raise BenchError(f"{proc.args[0]} did not stop within {timeout} s of a second {signal.Signals(sig).name}")
    dt = time.monotonic() - t0
    rc = proc.returncode
    return dt, (128 - rc if rc < 0 else rc)


def kill_tree(proc):
    """SIGKILLs proc and whatever still runs with a working folder under bench-out/ (all ours)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(5)
    kill_strays()


def kill_strays():
    me = os.getpid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == me:
            continue
        with contextlib.suppress(OSError):
            cwd = os.readlink(f"/proc/{pid}/cwd")
            if cwd.startswith(OUT + "/") and "/home-" in cwd:  # a server in one of our homes
                os.kill(int(pid), signal.SIGKILL)


def cleanup():
    for proc in STARTED:
        if proc.poll() is None:
            kill_tree(proc)
    for name in CONTAINERS:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(cmd, env=None, cwd=None, check=True, capture=True, input=None, timeout=900):
    r = subprocess.run(cmd, env=env, cwd=cwd, input=input, timeout=timeout,
                       stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None)
    if check and r.returncode != 0:
        out = r.stdout.decode(errors="replace")[-3000:] if capture else ""
        raise BenchError(f"{' '.join(map(str, cmd))} failed with {r.returncode}\n{out}")
    return r.stdout.decode(errors="replace") if capture else ""


def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30).stdout
        return out.decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "not available"


def rm_tree(path):
    if os.path.lexists(path):
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


# ---- what is being measured against -------------------------------------------------------------

class Target:
    """A ComfyUI to run: the stand-in or the real one, its sources and wheels."""

    def __init__(self, key, title, comfy_repo, comfy_ref, login_repo, login_ref, wheels, start_timeout, settle=0.0):
        self.key, self.title = key, title
        self.settle = settle  # seconds between the first answer and the stop signal
        self.comfy_repo, self.comfy_ref = comfy_repo, comfy_ref
        self.login_repo, self.login_ref = login_repo, login_ref
        self.wheels = wheels
        self.start_timeout = start_timeout
        self.dir = os.path.join(OUT, key)
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)

    def home(self, name):
        return os.path.join(self.dir, "home-" + name)

    def logpath(self, name):
        return os.path.join(self.dir, "logs", name + ".log")

    def env(self, home, port, installer="pip", path=SYSTEM_PATH, **extra):
        env = base_env(path)
        env.update(
            COMFYUI_HOME=home, COMFYUI_REPO=self.comfy_repo, COMFYUI_REF=self.comfy_ref,
            COMFYUI_LOGIN_REPO=self.login_repo, COMFYUI_LISTEN="127.0.0.1", COMFYUI_PORT=str(port),
            COMFYUI_ARGS="--cpu", COMFYUI_INSTALLER=installer, COMFYUI_PASSWORD=PASSWORD,
            PIP_FIND_LINKS=self.wheels, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
        )
        if self.login_ref:
            env["COMFYUI_LOGIN_REF"] = self.login_ref
        env.update(extra)
        return env


class Entrypoint:
    """One way to start the server: (command, environment, cwd, stop signal) for a home and a port."""

    def __init__(self, name, make, stop_signal):
        self.name, self.make, self.stop_signal = name, make, stop_signal


def straight(bench, target, home):
    def make(port):
        cmd = [os.path.join(home, "venv", "bin", "python"), "main.py", "--listen", "127.0.0.1", "--port", str(port),
               "--cpu"]
        env = base_env()
        env["PYTHONUNBUFFERED"] = "1"  # what comfy-init gives the server too
        return cmd, env, os.path.join(home, "ComfyUI")
    return Entrypoint("python main.py (straight)", make, signal.SIGINT)


def comfy_init(bench, target, home, **extra):
    return Entrypoint("comfy-init", lambda port: ([bench.bin, "run"], target.env(home, port, **extra), None),
                      signal.SIGTERM)


def baseline(bench, target, home):
    # The baseline execs python, so it stops like python does.
    return Entrypoint("bash baseline", lambda port: (["/bin/bash", BASELINE], target.env(home, port), None),
                      signal.SIGINT)


def start_to_answer(target, ep, tag):
    """Starts ep, waits for the first HTTP answer: (seconds, running process, port)."""
    port = free_port()
    cmd, env, cwd = ep.make(port)
    log_path = target.logpath(tag)
    with open(log_path, "ab") as f:
        f.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
    t0 = time.monotonic()
    proc = start(cmd, env, log_path, cwd)
    try:
        t1 = wait_http(port, proc, target.start_timeout)
    except BaseException:
        kill_tree(proc)
        raise
    return t1 - t0, proc, port


def last_log_seconds(log_path, pattern):
    """The duration in the last log line matching pattern's group 1, like '19 ms' or '2.92 s'."""
    found = None
    for line in open(log_path, errors="replace"):
        m = re.search(pattern, line)
        if m:
            found = m.group(1)
    if found is None:
        return None
    value, unit = found.split()
    return float(value) / (1000 if unit == "ms" else 1)


# ---- the benchmark ------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.mode = "quick" if args.quick else "full"
        self.runs = RUNS[self.mode]
        self.bin = os.path.realpath(args.bin)
        self.results = {}
        self.started = time.monotonic()
        self.load_start = os.getloadavg()

    # -- preparation

    def prepare(self):
        os.makedirs(os.path.join(OUT, "bin"), exist_ok=True)
        if not os.access(self.bin, os.X_OK):
            raise BenchError(f"{self.bin} is missing; run scripts/build first (or pass --bin)")
        # A snapshot: a scripts/build during the run must not swap the binary between two sections.
        snapshot = os.path.join(OUT, "bin", "comfy-init")
        rm_tree(snapshot)
        shutil.copy2(self.bin, snapshot)
        self.source_bin, self.bin = self.bin, snapshot
        for tool in ("hyperfine", "gcc", "git", "curl", "tini", "dumb-init", "catatonit", "unshare"):
            if not shutil.which(tool):
                raise BenchError(f"{tool} is missing; run scripts/setup")
        self.stamp = os.path.join(OUT, "bin", "stamp")
        src = os.path.join(HERE, "stamp.c")
        if not os.path.exists(self.stamp) or os.path.getmtime(self.stamp) < os.path.getmtime(src):
            run(["gcc", "-O2", "-Wall", "-o", self.stamp, src])
        self.repos = os.path.join(OUT, "repos")
        run(["/bin/bash", os.path.join(FIXTURES, "make-standin-repos.sh"), FIXTURES, self.repos])
        self.tools = self.tools_venv()
        self.uv_path = os.path.join(OUT, "uvbin")
        os.makedirs(self.uv_path, exist_ok=True)
        uv_link = os.path.join(self.uv_path, "uv")
        rm_tree(uv_link)
        os.symlink(os.path.join(self.tools, "bin", "uv"), uv_link)

    def tools_venv(self):
        """A venv with Python's bcrypt and uv, from the wheel cache (made once)."""
        tools = os.path.join(OUT, "tools")
        marker = os.path.join(tools, ".bench-ready")
        if not os.path.exists(marker):
            log("making bench-out/tools (Python's bcrypt and uv from .cache/wheels)")
            rm_tree(tools)
            run([PYTHON, "-m", "venv", tools])
            run([os.path.join(tools, "bin", "pip"), "install", "-q", "--no-index", "--find-links", WHEELS,
                 "bcrypt", "uv"], env=base_env())
            open(marker, "w").close()
        return tools

    def standin(self):
        return Target("standin", "stand-in ComfyUI", "file://" + self.repos + "/comfyui.git-src", "v0.8.0-standin",
                      "file://" + self.repos + "/login-src", "v1.0-standin", WHEELS, start_timeout=120)

    def make_home(self, target, name, ep_factory):
        """A fresh home, installed by a first start of the entrypoint: (home, seconds to first answer)."""
        home = target.home(name)
        rm_tree(home)
        seconds, proc, _ = start_to_answer(target, ep_factory(home), f"{name}-first-start")
        stop(proc, ep_factory(home).stop_signal, target.settle)
        return home, seconds

    # -- 1. warm start

    def warm(self, target, runs, homes):
        ci_home, bl_home = homes
        eps = [straight(self, target, ci_home), comfy_init(self, target, ci_home), baseline(self, target, bl_home)]
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
    def stamp_python(self, venv):
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
            os.symlink(self.stamp, python)
            yield
        finally:
            for name in os.listdir(bindir):
                if name.startswith("python") and os.path.islink(os.path.join(bindir, name)):
                    os.remove(os.path.join(bindir, name))
            for name, dest in saved.items():
                os.symlink(dest, os.path.join(bindir, name))

    def overhead(self, target, runs, homes, tmpfs_home=None):
        """Each entrypoint's time from its exec to the server's exec, with stamp.c as the server's python.
        With tmpfs_home (a bootstrapped home on tmpfs), comfy-init once more there: fsync costs nothing."""
        ci_home, bl_home = homes
        log(f"{target.key}: exec-to-exec overhead, {runs} runs each (+1 warm-up)")
        eps = [("comfy-init", comfy_init(self, target, ci_home), ci_home),
               ("bash baseline", baseline(self, target, bl_home), bl_home)]
        if tmpfs_home:
            eps.append(("comfy-init, home on tmpfs", comfy_init(self, target, tmpfs_home), tmpfs_home))
        result = {name: Sample() for name, _, _ in eps}
        stamps = os.path.join(target.dir, "stamps")
        with contextlib.ExitStack() as stack:
            for venv in sorted({os.path.realpath(os.path.join(home, "venv")) for _, _, home in eps}):
                stack.enter_context(self.stamp_python(venv))
            for i in range(runs + 1):
                for name, ep, _ in eps:
                    rm_tree(stamps)
                    cmd, env, cwd = ep.make(free_port())
                    env["BENCH_STAMP_FILE"] = stamps
                    log_path = target.logpath("overhead-" + re.sub(r"\W+", "-", name))
                    proc = start([self.stamp, "launch", stamps] + cmd, env, log_path, cwd)
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

    def token_drift(self, target, homes, restarts=3):
        """The bearer token (line 1 of login/PASSWORD) after each of a few restarts, per entrypoint."""
        ci_home, bl_home = homes
        out = {}
        for name, ep, home in (("comfy-init", comfy_init(self, target, ci_home), ci_home),
                               ("bash baseline", baseline(self, target, bl_home), bl_home)):
            tokens = []
            for _ in range(restarts):
                _, proc, _ = start_to_answer(target, ep, "tokens-" + name.split()[-1])
                tokens.append(read_token(home))
                stop(proc, ep.stop_signal, target.settle)
            out[name] = len(set(tokens))
        return out

    def tmpfs_home(self, target):
        """A bootstrapped comfy-init home on /dev/shm (tmpfs), or None where there is none."""
        shm = "/dev/shm"
        if not os.path.isdir(shm) or os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize < 1 << 30:
            return None
        home = os.path.join(shm, f"comfy-init-bench-{os.getpid()}")
        rm_tree(home)
        run([self.bin, "bootstrap"], env=target.env(home, free_port()))
        return home

    # -- 2. cold start

    def cold(self, target, runs):
        log(f"{target.key}: cold start, {runs} runs of 3 entrypoints + python3 -m venv alone")
        variants = [
            ("comfy-init (pip)", lambda home, rep: comfy_init(self, target, home)),
            ("comfy-init (uv)", lambda home, rep: comfy_init(
                self, target, home, installer="uv", path=self.uv_path + ":" + SYSTEM_PATH,
                UV_CACHE_DIR=os.path.join(target.dir, f"uv-cache-{rep}"))),
            ("bash baseline", lambda home, rep: baseline(self, target, home)),
        ]
        times = {name: Sample() for name, _ in variants}
        venv_phase = {name: Sample() for name, _ in variants if name.startswith("comfy-init")}
        venv_alone = Sample()
        for rep in range(runs):
            for name, factory in variants:
                home = target.home("cold")
                rm_tree(home)
                rm_tree(os.path.join(target.dir, f"uv-cache-{rep}"))
                ep = factory(home, rep)
                tag = "cold-" + re.sub(r"\W+", "-", name).strip("-")
                seconds, proc, _ = start_to_answer(target, ep, tag)
                stop(proc, ep.stop_signal)
                times[name].add(seconds)
                if name in venv_phase:
                    v = last_log_seconds(proc.log_path, r"comfy-init: venv: installed \((\S+ m?s)\)")
                    if v is not None:
                        venv_phase[name].add(v)
                rm_tree(os.path.join(target.dir, f"uv-cache-{rep}"))
            scratch = os.path.join(target.dir, "venv-alone")
            rm_tree(scratch)
            t0 = time.monotonic()
            run([PYTHON, "-m", "venv", scratch], env=base_env())
            venv_alone.add(time.monotonic() - t0)
            rm_tree(scratch)
        rm_tree(target.home("cold"))
        return {"times": times, "venv_phase": venv_phase, "venv_alone": venv_alone,
                "order": [n for n, _ in variants]}

    # -- 3. docker stop

    def docker_image(self):
        """The bench image, built once per content (tag = hash of its inputs)."""
        ctx = os.path.join(OUT, "docker-context")
        rm_tree(ctx)
        os.makedirs(ctx)
        shutil.copy2(self.bin, os.path.join(ctx, "comfy-init"))
        shutil.copy2(os.path.join(HERE, "Dockerfile"), os.path.join(ctx, "Dockerfile"))
        shutil.copytree(self.repos, os.path.join(ctx, "repos"), symlinks=True)
        os.makedirs(os.path.join(ctx, "wheels"))
        for w in os.listdir(WHEELS):
            if w.endswith(".whl") and not w.startswith("uv-"):
                shutil.copy2(os.path.join(WHEELS, w), os.path.join(ctx, "wheels", w))
        h = hashlib.sha256()
        for name in ("comfy-init", "Dockerfile") + tuple("wheels/" + w for w in sorted(os.listdir(ctx + "/wheels"))):
            with open(os.path.join(ctx, name), "rb") as fh:
                h.update(name.encode() + b"\0" + fh.read())
        for repo in sorted(os.listdir(self.repos)):  # commit ids: the fixture's content, fixed dates
            h.update(run(["git", "-C", os.path.join(self.repos, repo), "rev-parse", "HEAD"]).encode())
        h.update(self.args.base_image.encode())
        tag = "comfy-init-bench:" + h.hexdigest()[:12]
        if subprocess.run(["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            log(f"docker: image {tag} is cached")
            return tag
        log(f"docker: building {tag} (once; apt-get installs python3, tini, dumb-init, catatonit)")
        env = dict(os.environ)
        if subprocess.run(["docker", "buildx", "version"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            env["DOCKER_BUILDKIT"] = "0"
        run(["docker", "build", "-q", "--build-arg", "BASE_IMAGE=" + self.args.base_image, "-t", tag, ctx], env=env,
            timeout=1200)
        return tag

    def docker_stop(self, runs):
        if subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            raise BenchError("the Docker engine does not answer; run scripts/docker-engine (or pass --no-docker)")
        if subprocess.run(["docker", "image", "inspect", self.args.base_image], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            run([os.path.join(ROOT, "scripts", "base-image"), self.args.base_image], capture=False)
        tag = self.docker_image()
        py = ["/opt/comfyui/venv/bin/python", "main.py", "--listen", "0.0.0.0", "--port", "8188", "--cpu"]
        variants = [
            ("comfy-init (run)", [], ["run"]),
            ("exec'd Python (no init)", ["--entrypoint", py[0]], py[1:]),
            ("tini", ["--entrypoint", "/usr/bin/tini"], ["--"] + py),
            ("dumb-init", ["--entrypoint", "/usr/bin/dumb-init"], py),
            ("catatonit", ["--entrypoint", "/usr/bin/catatonit"], ["--"] + py),
            ("comfy-init supervise", ["--entrypoint", "/usr/local/bin/comfy-init"], ["supervise", "--"] + py),
        ]
        log(f"docker: stop, {runs} runs of {len(variants)} entrypoints (the exec'd Python takes ~10 s each)")
        stops = {n: Sample() for n, _, _ in variants}
        starts = {n: Sample() for n, _, _ in variants}
        codes = {n: [] for n, _, _ in variants}
        for rep in range(runs):
            for name, opts, args in variants:
                cname = f"comfy-init-bench-{os.getpid()}-{rep}-{len(CONTAINERS)}"
                CONTAINERS.append(cname)
                t0 = time.monotonic()
                run(["docker", "run", "-d", "--name", cname, "-p", "127.0.0.1::8188"] + opts + [tag] + args)
                port = int(run(["docker", "port", cname, "8188/tcp"]).split()[0].rsplit(":", 1)[1])
                try:
                    t1 = wait_http(port, None, 120)
                except BenchError:
                    raise BenchError(f"{name}: container never answered:\n" + run(["docker", "logs", cname],
                                                                                   check=False))
                starts[name].add(t1 - t0)
                t2 = time.monotonic()
                run(["docker", "stop", cname])
                stops[name].add(time.monotonic() - t2)
                codes[name].append(int(run(["docker", "inspect", "-f", "{{.State.ExitCode}}", cname]).strip()))
                run(["docker", "rm", cname])
                CONTAINERS.remove(cname)
        return {"image": tag, "stops": stops, "starts": starts, "codes": codes, "order": [n for n, _, _ in variants]}

    # -- 4. the init itself

    def init_itself(self, target, home, runs):
        r = {}
        inits = {"comfy-init": self.bin, "tini": shutil.which("tini"), "tini-static": shutil.which("tini-static"),
                 "dumb-init": shutil.which("dumb-init"), "catatonit": shutil.which("catatonit")}
        r["sizes"] = []
        for name, path in inits.items():
            if not path:
                continue
            desc = run(["file", "-b", path])
            r["sizes"].append({"name": name, "path": path, "bytes": os.path.getsize(path),
                               "static": "statically linked" in desc, "stripped": ", stripped" in desc})

        # start+exit: hyperfine, no shell
        n = runs["startexit"]
        log(f"init: start+exit, hyperfine {n} runs each")
        cmds = [f"{self.bin} version", "tini --version", "dumb-init --version", "catatonit --version"]
        r["startexit"] = self.hyperfine(cmds, n, warmup=max(5, n // 10), names=["comfy-init version",
                                                                                "tini --version",
                                                                                "dumb-init --version",
                                                                                "catatonit --version"])

        # memory while supervising the stand-in server
        log(f"init: memory while supervising, {runs['memory']} runs each")
        py = [os.path.join(home, "venv", "bin", "python"), "main.py", "--listen", "127.0.0.1", "--port"]
        cwd = os.path.join(home, "ComfyUI")

        def sup(prefix):
            def make(port):
                env = base_env()
                env["PYTHONUNBUFFERED"] = "1"
                return prefix + py + [str(port), "--cpu"], env, cwd
            return make

        variants = [
            Entrypoint("comfy-init run", comfy_init(self, target, home).make, signal.SIGTERM),
            Entrypoint("comfy-init supervise", sup([self.bin, "supervise", "--"]), signal.SIGTERM),
            Entrypoint("tini -s", sup(["tini", "-s", "--"]), signal.SIGTERM),
            Entrypoint("dumb-init", sup(["dumb-init"]), signal.SIGTERM),
            Entrypoint("catatonit", sup(["catatonit", "--"]), signal.SIGTERM),
        ]
        mem = {ep.name: {"rss": Sample(), "private": Sample(), "dirty": Sample()} for ep in variants}
        for _ in range(runs["memory"]):
            for ep in variants:
                _, proc, _ = start_to_answer(target, ep, "memory")
                time.sleep(0.2)
                fields = smaps_rollup(proc.pid)
                stop(proc, ep.stop_signal)
                mem[ep.name]["rss"].add(fields["Rss"])
                mem[ep.name]["dirty"].add(fields["Private_Dirty"])
                mem[ep.name]["private"].add(fields["Private_Clean"] + fields["Private_Dirty"])
        r["memory"] = mem
        r["memory_order"] = [ep.name for ep in variants]

        # reaping 1000 orphans as PID 1 (unshare) and, for comfy-init, as a child subreaper
        log(f"init: reaping 1000 orphans, {runs['orphans']} runs each")
        report = os.path.join(target.dir, "orphans.json")
        orphans = [PYTHON, ORPHANS, "1000", report]
        pid1 = ["unshare", "--pid", "--fork", "--mount-proc"]
        reap_variants = [
            ("comfy-init supervise (PID 1)", pid1 + [self.bin, "supervise", "--"] + orphans),
            ("tini (PID 1)", pid1 + ["tini", "--"] + orphans),
            ("dumb-init (PID 1)", pid1 + ["dumb-init"] + orphans),
            ("catatonit (PID 1)", pid1 + ["catatonit", "--"] + orphans),
            ("comfy-init supervise (subreaper, not PID 1)", [self.bin, "supervise", "--"] + orphans),
        ]
        reap = {name: {"seconds": Sample(), "zombies": [], "adopted": [], "wall": Sample()} for name, _ in reap_variants}
        for _ in range(runs["orphans"]):
            for name, cmd in reap_variants:
                rm_tree(report)
                t0 = time.monotonic()
                run(cmd, env=base_env(), timeout=120)
                reap[name]["wall"].add(time.monotonic() - t0)
                data = json.load(open(report))
                reap[name]["seconds"].add(data["seconds"])
                reap[name]["zombies"].append(data["zombies"] + data["left"])
                reap[name]["adopted"].append(data["adopted"])
        r["reap"] = reap
        r["reap_order"] = [n for n, _ in reap_variants]
        return r

    def hyperfine(self, cmds, runs, warmup, names, env=None):
        out = os.path.join(OUT, "hyperfine.json")
        run(["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
             "--export-json", out] + cmds, env=env)
        data = json.load(open(out))["results"]
        return {name: Sample(res["times"]) for name, res in zip(names, data)}

    # -- 5. health

    def health(self, target, home, runs):
        log(f"health: {runs} runs each (hyperfine)")
        ep = comfy_init(self, target, home)
        _, proc, port = start_to_answer(target, ep, "health")
        try:
            token = read_token(home)
            pwfile = os.path.join(home, "ComfyUI", "login", "PASSWORD")
            url = f"http://127.0.0.1:{port}/system_stats"
            one_liner = ("import urllib.request as r; t=open('%s').readline().strip(); "
                         "r.urlopen(r.Request('%s', headers={'Authorization': 'Bearer '+t}), timeout=5)"
                         % (pwfile, url))
            cmds = [f"{self.bin} health",
                    f"curl -fsS -o /dev/null -H 'Authorization: Bearer {token}' {url}",
                    f'{PYTHON} -c "{one_liner}"']
            env = base_env()
            env.update(COMFYUI_HOME=home, COMFYUI_PORT=str(port), COMFYUI_LISTEN="127.0.0.1")
            res = self.hyperfine(cmds, runs, warmup=3, env=env,
                                 names=["comfy-init health", "curl", "python3 -c urllib"])
        finally:
            stop(proc, ep.stop_signal)
        return res

    # -- 6. bcrypt

    def bcrypt(self, target, home, runs):
        log(f"bcrypt: cost 12, {runs} runs each")
        py = os.path.join(self.tools, "bin", "python")
        script = ("import bcrypt, json, time\n"
                  "t0 = time.perf_counter(); h = bcrypt.hashpw(b'%s', bcrypt.gensalt(12)); t1 = time.perf_counter()\n"
                  "ok = bcrypt.checkpw(b'%s', h); t2 = time.perf_counter()\n"
                  "print(json.dumps({'hash': t1 - t0, 'verify': t2 - t1, 'ok': ok, 'h': h.decode()}))\n"
                  % (PASSWORD, PASSWORD))
        s = {k: Sample() for k in ("ci_hash", "py_hash", "py_verify", "py_process", "ci_verify_phase",
                                   "ci_stamp_phase")}
        env = target.env(home, free_port())
        stamp = os.path.join(home, ".comfy-init", "auth.stamp")
        boot_log = target.logpath("bcrypt-bootstrap")
        for _ in range(runs):
            t0 = time.monotonic()
            h = run([self.bin, "hash-password", "--cost", "12"], input=PASSWORD.encode(), env=base_env()).strip()
            s["ci_hash"].add(time.monotonic() - t0)
            # Python's bcrypt must accept comfy-init's hash (and the other way round, below)
            chk = run([py, "-c", f"import bcrypt; assert bcrypt.checkpw(b'{PASSWORD}', b'{h}')"])
            t0 = time.monotonic()
            data = json.loads(run([py, "-c", script]))
            s["py_process"].add(time.monotonic() - t0)
            assert data["ok"], chk
            s["py_hash"].add(data["hash"])
            s["py_verify"].add(data["verify"])
            # comfy-init verifies during its auth phase when auth.stamp does not vouch for the password yet
            rm_tree(stamp)
            with open(boot_log, "w") as f:
                subprocess.run([self.bin, "bootstrap"], env=env, stdout=f, stderr=subprocess.STDOUT, check=True)
            v = last_log_seconds(boot_log, r"comfy-init: auth: login/PASSWORD unchanged.*\((\S+ m?s)\)")
            if v is None:
                raise BenchError(f"no auth line in {boot_log}:\n{tail(boot_log)}")
            s["ci_verify_phase"].add(v)
            with open(boot_log, "w") as f:
                subprocess.run([self.bin, "bootstrap"], env=env, stdout=f, stderr=subprocess.STDOUT, check=True)
            s["ci_stamp_phase"].add(last_log_seconds(boot_log, r"comfy-init: auth: .*\((\S+ m?s)\)"))
        return s

    # -- the real ComfyUI

    def real(self, e2e, runs):
        for p in ("comfy-src", "login-src", "wheels/.complete"):
            if not os.path.exists(os.path.join(e2e, p)):
                raise BenchError(f"{e2e}/{p} is missing; run ../shared/tools/real-comfyui.sh until it prints ready:")
        target = Target("real", "real ComfyUI", "file://" + os.path.join(e2e, "comfy-src"), "v0.8.0-snapshot",
                        "file://" + os.path.join(e2e, "login-src"), None, os.path.join(e2e, "wheels"),
                        start_timeout=900, settle=1.0)
        r = {"snapshot": run(["git", "-C", os.path.join(e2e, "comfy-src"), "log", "-1", "--format=%h %s"]).strip(),
             "login": run(["git", "-C", os.path.join(e2e, "login-src"), "log", "-1", "--format=%h %cs %s"]).strip()}
        cold_file = os.path.join(target.dir, "cold.json")
        ci_home, bl_home = target.home("comfy-init"), target.home("baseline")
        if self.args.real_reuse and os.path.exists(cold_file) and os.path.exists(
                os.path.join(ci_home, "venv", ".comfy-init-stamp")) and os.path.exists(
                os.path.join(bl_home, "ComfyUI", "login", "PASSWORD")):
            log("real: reusing the installed homes of an earlier run (--real-reuse)")
            r["cold"] = json.load(open(cold_file))
            r["cold_reused"] = True
            return self.real_warm(target, runs, r, (ci_home, bl_home))
        cold = {}
        log("real: first starts from an empty home (installs torch and friends; minutes each)")
        ci_home, cold["comfy-init (pip)"] = self.make_home(target, "comfy-init", lambda h: comfy_init(self, target, h))
        bl_home, cold["bash baseline"] = self.make_home(target, "baseline", lambda h: baseline(self, target, h))
        if self.args.real_uv:
            uv_cache = os.path.join(target.dir, "uv-cache")
            rm_tree(uv_cache)
            _, cold["comfy-init (uv)"] = self.make_home(target, "uv", lambda h: comfy_init(
                self, target, h, installer="uv", path=self.uv_path + ":" + SYSTEM_PATH, UV_CACHE_DIR=uv_cache))
            rm_tree(target.home("uv"))
            rm_tree(uv_cache)
        r["cold"] = cold
        with open(cold_file, "w") as f:
            json.dump(cold, f)
        return self.real_warm(target, runs, r, (ci_home, bl_home))

    def real_warm(self, target, runs, r, homes):
        ci_home = homes[0]
        share_venv(*homes)
        r["auth"] = self.auth_checks(target, ci_home)
        r["warm"] = self.warm(target, runs["real_warm"], homes)
        r["overhead"] = self.overhead(target, runs["real_overhead"], homes)
        r["tokens"] = self.token_drift(target, homes)
        r["sigterm"] = self.sigterm_straight(target, ci_home, runs["real_overhead"])
        r["size"] = {"venv": du(os.path.join(ci_home, "venv"))}
        return r

    def sigterm_straight(self, target, home, runs):
        """What tini, dumb-init and catatonit deliver: SIGTERM itself, whose default action kills Python
        at once (no KeyboardInterrupt, no cleanup): (stop seconds, exit codes)."""
        log(f"{target.key}: python main.py stopped by SIGTERM, {runs} runs")
        ep = straight(self, target, home)
        times, codes = Sample(), set()
        for _ in range(runs):
            _, proc, _ = start_to_answer(target, ep, "sigterm-python")
            dt, code = stop(proc, signal.SIGTERM, target.settle)
            times.add(dt)
            codes.add(code)
        return {"times": times, "codes": sorted(codes)}

    def auth_checks(self, target, home):
        """ComfyUI-Login's contract through comfy-init, and the token across a restart."""
        log(f"{target.key}: auth checks (401, bearer, /login form, token after a restart)")
        ep = comfy_init(self, target, home)
        checks = []
        token_before = read_token(home)
        _, proc, port = start_to_answer(target, ep, "auth")
        try:
            checks += http_auth_checks(port, token_before)
        finally:
            stop(proc, ep.stop_signal, target.settle)
        _, proc, port = start_to_answer(target, ep, "auth")
        try:
            after = read_token(home)
            ok = after == token_before and http_get(port, "/system_stats", {"Authorization": "Bearer " + after})[0] == 200
            checks.append(("same token after a restart, and it still opens /system_stats", ok,
                           "unchanged" if after == token_before else "CHANGED"))
        finally:
            dt, code = stop(proc, ep.stop_signal, target.settle)
        checks.append(("SIGTERM stops comfy-init, exit 0", code == 0, f"{fmt_s(dt)}, exit {code}"))
        return checks

    # -- orchestration

    def run_all(self):
        args = self.args
        self.prepare()
        if args.real_only:
            self.results["real"] = self.real(args.real, self.runs)
            return
        sections = set(args.only.split(",")) if args.only else {"warm", "cold", "docker", "init", "health",
                                                                  "bcrypt"}
        if args.no_docker:
            sections.discard("docker")
        target = self.standin()
        log("stand-in: first starts into fresh homes (comfy-init, baseline)")
        ci_home, ci_first = self.make_home(target, "comfy-init", lambda h: comfy_init(self, target, h))
        bl_home, bl_first = self.make_home(target, "baseline", lambda h: baseline(self, target, h))
        homes = (ci_home, bl_home)
        share_venv(ci_home, bl_home)
        res = self.results.setdefault("standin", {})
        res["auth"] = self.auth_checks(target, ci_home)
        if "warm" in sections:
            res["warm"] = self.warm(target, self.runs["warm"], homes)
            shm = self.tmpfs_home(target)
            try:
                res["overhead"] = self.overhead(target, self.runs["overhead"], homes, shm)
            finally:
                if shm:
                    rm_tree(shm)
            res["tokens"] = self.token_drift(target, homes)
        if "cold" in sections:
            res["cold"] = self.cold(target, self.runs["cold"])
        if "init" in sections:
            res["init"] = self.init_itself(target, ci_home, self.runs)
        if "health" in sections:
            res["health"] = self.health(target, ci_home, self.runs["health"])
        if "bcrypt" in sections:
            res["bcrypt"] = self.bcrypt(target, ci_home, self.runs["bcrypt"])
        if "docker" in sections:
            res["docker"] = self.docker_stop(self.runs["stop"])
        if args.real:
            self.results["real"] = self.real(args.real, self.runs)


def share_venv(ci_home, bl_home):
    """The baseline's home keeps its own checkout and login/PASSWORD but uses comfy-init's venv from here
    on. With a venv each, whichever entrypoint ran right after the baseline paid for page-cache misses
    on its own venv (measured on the real ComfyUI: 0.5 to 1 s), which is not what is being compared.
    Its pip runs find everything installed either way."""
    venv = os.path.join(bl_home, "venv")
    if os.path.islink(venv):
        return
    rm_tree(venv)
    os.symlink(os.path.join(ci_home, "venv"), venv)


def read_token(home):
    with open(os.path.join(home, "ComfyUI", "login", "PASSWORD")) as f:
        return f.readline().rstrip("\r\n")


def smaps_rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields


def du(path):
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, f)).st_size
    return total


def http_get(port, path, headers=None, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location"), resp.getheader("Set-Cookie")
    finally:
        conn.close()


def http_auth_checks(port, token):
    checks = []
    st, _, _ = http_get(port, "/system_stats")
    checks.append(("GET /system_stats without credentials: 401", st == 401, str(st)))
    st, loc, _ = http_get(port, "/system_stats", {"Accept": "text/html"})
    checks.append(("... from a browser (Accept: text/html): 302 to /login", st == 302 and loc == "/login",
                   f"{st} {loc}"))
    st, _, _ = http_get(port, "/system_stats", {"Authorization": "Bearer " + token})
    checks.append(("GET /system_stats with `Authorization: Bearer <hash>`: 200", st == 200, str(st)))
    st, _, _ = http_get(port, "/system_stats?token=" + urllib.parse.quote(token, safe=""))
    checks.append(("GET /system_stats?token=<hash>: 200", st == 200, str(st)))
    st, _, _ = http_get(port, "/system_stats", {"Authorization": "Bearer " + PASSWORD})
    checks.append(("the raw password as a bearer token: 401", st == 401, str(st)))
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode({"username": "admin", "password": PASSWORD})
    st, loc, cookie = http_get(port, "/login", form, method="POST", body=body)
    checks.append(("POST /login, right password: 302 to / with a session cookie",
                   st == 302 and loc == "/" and bool(cookie), f"{st} {loc}, cookie {'set' if cookie else 'missing'}"))
    if cookie:
        st, _, _ = http_get(port, "/queue", {"Cookie": cookie.split(";")[0]})
        checks.append(("GET /queue with that cookie: 200", st == 200, str(st)))
    body = urllib.parse.urlencode({"username": "admin", "password": "wrong"})
    st, loc, _ = http_get(port, "/login", form, method="POST", body=body)
    checks.append(("POST /login, wrong password: 302 to /login?wrong_password=1",
                   st == 302 and loc == "/login?wrong_password=1", f"{st} {loc}"))
    return checks


# ---- machine -----------------------------------------------------------------------------------

def machine_info(bench):
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    osname = "?"
    with contextlib.suppress(OSError):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    head = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.decode().strip() or "?"
    with open(bench.bin, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    docker = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL).stdout.decode().strip() or "not running"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": f"{bench.load_start[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
        "duration": f"{time.monotonic() - bench.started:.0f} s",
        "cpu": cpu, "cores": os.cpu_count(), "ram": f"{mem / (1 << 30):.1f} GiB", "kernel": platform.release(),
        "os": osname,
        "versions": [
            ("comfy-init", f"{first_line([bench.bin, 'version'])}, sha256 {digest}…, repo at {head}"),
            ("python3", first_line([PYTHON, "--version"])),
            ("pip", first_line([os.path.join(bench.tools, "bin", "pip"), "--version"]).split(" from ")[0]),
            ("uv", first_line([os.path.join(bench.tools, "bin", "uv"), "--version"])),
            ("git", first_line(["git", "--version"])),
            ("tini", first_line(["tini", "--version"])),
            ("dumb-init", first_line(["dumb-init", "--version"])),
            ("catatonit", first_line(["catatonit", "--version"])),
            ("curl", " ".join(first_line(["curl", "--version"]).split()[:2])),
            ("hyperfine", first_line(["hyperfine", "--version"])),
            ("Docker engine", docker),
        ],
    }


# ---- report ------------------------------------------------------------------------------------

def ratio(a, b):
    return a.median / b.median if b.median else float("nan")


def render_machine(m, mode, runs):
    lines = [f"Run on {m['date']}, `{mode}` mode ({', '.join(f'{k} {v}' for k, v in runs.items())} runs).", "",
             table(["machine", ""], [["CPU", m["cpu"]], ["cores", m["cores"]], ["RAM", m["ram"]],
                                     ["kernel", m["kernel"]], ["OS", m["os"]],
                                     ["load average (1 min)", m["load"]], ["bench duration", m["duration"]]] + [list(v) for v in m["versions"]])]
    return "\n".join(lines)


def render_warm(w, overhead, tokens, title):
    t = w["times"]
    floor = t["python main.py (straight)"]
    rows = []
    for name in w["order"]:
        s = t[name]
        rows.append([name] + cells(s) + [fmt_s(s.median - floor.median) if s is not floor else "-",
                                         fmt_ratio(ratio(s, floor))])
    out = [table([f"warm start to first HTTP answer ({title})", "median", "min", "max", "runs", "over the floor",
                  "× floor"], rows)]
    paired = Sample(c - f for c, f in zip(t["comfy-init"].values, floor.values))
    out += ["", f"Paired by round (the entrypoints take turns): comfy-init minus straight, median "
                f"{fmt_s(paired.median)} (min {fmt_s(paired.min)}, max {fmt_s(paired.max)})."]
    ci, bl = overhead["comfy-init"], overhead["bash baseline"]
    out += ["", "Each entrypoint's own time, from its exec to the server's exec (`VENV/bin/python` replaced by "
                "`scripts/bench.d/stamp.c`, which records the clock when called as `python main.py`):", "",
            table(["own time before the server starts", "median", "min", "max", "runs", "× comfy-init"],
                  [["comfy-init"] + cells(ci) + ["1×"],
                   ["bash baseline"] + cells(bl) + [fmt_ratio(ratio(bl, ci))]] +
                  [[n + " (no fsync cost)"] + cells(s) + [fmt_ratio(ratio(s, ci))]
                   for n, s in overhead.items() if "tmpfs" in n])]
    if w["bootstrap"].n:
        b = w["bootstrap"]
        out += ["", f"comfy-init's own log during the warm starts: `bootstrap: done in` median {fmt_s(b.median)} "
                    f"(min {fmt_s(b.min)}, max {fmt_s(b.max)}, {b.n} runs)."]
    stops = w["stops"]
    out += ["", "Stopping those warm runs on the host (not PID 1; comfy-init gets SIGTERM and passes SIGINT on, "
                "the others get SIGINT directly): " + "; ".join(
                    f"{n}: {fmt_s(stops[n].median)} (max {fmt_s(stops[n].max)}), exit {'/'.join(map(str, w['codes'][n]))}"
                    for n in w["order"]) + "."]
    lost = {n: k for n, k in w.get("lost", {}).items() if k}
    if lost:
        out += ["", "**Stop signal lost** (the server still ran 12 s later; Python swallowed the KeyboardInterrupt, "
                    "e.g. in a weakref callback; the script then sent it again, and comfy-init kills after its own "
                    "grace): " + "; ".join(f"{n}: {k} of {w['times'][n].n + 1} stops" for n, k in lost.items()) + "."]
    if tokens:
        out += ["", "Bearer tokens (line 1 of `login/PASSWORD`) seen over 3 restarts: " + "; ".join(
            f"{n}: {k} distinct" for n, k in tokens.items()) + "."]
    return "\n".join(out)


def render_cold(c):
    t = c["times"]
    ref = t["comfy-init (pip)"]
    rows = [[n] + cells(t[n]) + [fmt_ratio(ratio(t[n], ref)),
                                 fmt_s(c["venv_phase"][n].median) if n in c["venv_phase"] and c["venv_phase"][n].n
                                 else "-"]
            for n in c["order"]]
    rows.append(["`python3 -m venv` alone (part of every cold start)"] + cells(c["venv_alone"]) + ["-", "-"])
    return table(["cold start, empty home to first HTTP answer", "median", "min", "max", "runs",
                  "× comfy-init (pip)", "venv phase (log)"], rows)


def render_docker(d):
    py = d["stops"]["exec'd Python (no init)"]
    rows = []
    for n in d["order"]:
        s = d["stops"][n]
        codes = sorted(set(d["codes"][n]))
        rows.append([n] + cells(s) + ["/".join(map(str, codes)), fmt_ratio(ratio(py, s)) if s is not py else "1×",
                                      fmt_s(d["starts"][n].median)])
    return "\n".join([
        f"Image `{d['image']}` (built by the script from `scripts/bench.d/Dockerfile`, FROM comfy-init-base:bookworm "
        "with Debian's python3, tini, dumb-init and catatonit): the same bootstrapped stand-in server behind every "
        "entrypoint, Docker's default 10 s grace.", "",
        table(["`docker stop`", "median", "min", "max", "runs", "exit code", "faster than exec'd Python",
               "`docker run` to first answer"], rows)])


def render_init(r):
    out = []
    ci_size = next(s for s in r["sizes"] if s["name"] == "comfy-init")
    rows = [[s["name"], fmt_bytes(s["bytes"]), "static" if s["static"] else "dynamic (+ libc)",
             "yes" if s["stripped"] else "no", fmt_ratio(s["bytes"] / ci_size["bytes"])] for s in r["sizes"]]
    out += [table(["binary", "size", "linking", "stripped", "× comfy-init"], rows), ""]
    mem = r["memory"]
    rows = []
    for n in r["memory_order"]:
        m = mem[n]
        rows.append([n] + [f"{fmt_bytes(m[k].median)} ({fmt_bytes(m[k].min)} – {fmt_bytes(m[k].max)})"
                           for k in ("rss", "private", "dirty")] + [str(m["rss"].n)])
    out += ["Memory of the init process while it supervises the stand-in server, from `/proc/PID/smaps_rollup`, "
            "median (min – max). Private = Private_Clean + Private_Dirty: pages no other process maps, which for "
            "a static binary includes its own code read from the page cache (clean, reclaimable; this kernel maps "
            "file text in large folios). Private dirty = what the init itself wrote: heap, stack, data.", "",
            table(["init", "resident (RSS)", "private", "private dirty", "runs"], rows), ""]
    se = r["startexit"]
    ci = se["comfy-init version"]
    rows = [[n] + cells(s) + [fmt_ratio(ratio(s, ci))] for n, s in se.items()]
    out += [table(["start + exit (hyperfine -N)", "median", "min", "max", "runs", "× comfy-init"], rows), ""]
    reap = r["reap"]
    rows = []
    for n in r["reap_order"]:
        x = reap[n]
        rows.append([n] + cells(x["seconds"]) + [fmt_s(x["wall"].median), str(min(x["adopted"])) + "–" +
                                                 str(max(x["adopted"])), str(max(x["zombies"]))])
    out += ["Reaping: `Tests/Fixtures/pid1/orphans.py 1000` makes 1000 orphans that the init adopts, releases them "
            "at once and polls /proc (every 5 ms) until all are gone; PID 1 in `unshare --pid --fork --mount-proc`:",
            "", table(["1000 orphans", "all reaped after (median)", "min", "max", "runs", "whole command",
                       "adopted", "zombies left (worst run)"], rows)]
    return "\n".join(out)


def render_health(h):
    ci = h["comfy-init health"]
    rows = [[n] + cells(s) + [fmt_ratio(ratio(s, ci))] for n, s in h.items()]
    return "\n".join([
        "An authenticated `GET /system_stats` against the running stand-in (comfy-init reads the token from "
        "`login/PASSWORD`, so does the Python one-liner; curl gets it on its command line), hyperfine -N:", "",
        table(["health check", "median", "min", "max", "runs", "× comfy-init"], rows)])


def render_bcrypt(b):
    rows = [
        ["comfy-init hash-password --cost 12 (whole process)"] + cells(b["ci_hash"]) +
        [fmt_ratio(ratio(b["ci_hash"], b["py_hash"]))],
        ["Python bcrypt.hashpw, cost 12 (in-process)"] + cells(b["py_hash"]) + ["1×"],
        ["comfy-init verify: auth phase without auth.stamp (bcrypt + 2 PBKDF2 + stamp write)"] +
        cells(b["ci_verify_phase"]) + [fmt_ratio(ratio(b["ci_verify_phase"], b["py_verify"]))],
        ["Python bcrypt.checkpw (in-process)"] + cells(b["py_verify"]) + [fmt_ratio(ratio(b["py_verify"],
                                                                                           b["py_verify"]))],
        ["comfy-init auth phase on a restart (auth.stamp vouches: no bcrypt)"] + cells(b["ci_stamp_phase"]) +
        [fmt_ratio(ratio(b["ci_stamp_phase"], b["py_verify"]))],
        ["Python process: start, import bcrypt, hash + verify"] + cells(b["py_process"]) + ["-"],
    ]
    return table(["bcrypt, cost 12", "median", "min", "max", "runs", "× Python (same operation)"], rows)


def render_auth(checks):
    return table(["check (through comfy-init)", "result", "seen"],
                 [[c, "pass" if ok else "**FAIL**", seen] for c, ok, seen in checks])


def targets_table(res):
    rows = []
    w, o, d = res.get("warm"), res.get("overhead"), res.get("docker")
    if w:
        t = w["times"]
        diff = t["comfy-init"].median - t["python main.py (straight)"].median
        rows.append(["warm start within 0.2 s of `python main.py`", fmt_signed(diff),
                     "met" if diff <= 0.2 else "**missed**"])
    if o:
        r = ratio(o["bash baseline"], o["comfy-init"])
        rows.append(["≥ 10× less own time than the bash baseline", fmt_ratio(r), "met" if r >= 10 else "**missed**"])
    if w:
        r = ratio(w["times"]["bash baseline"], w["times"]["comfy-init"])
        rows.append(["(warm start, baseline / comfy-init, server start included)", fmt_ratio(r), "-"])
    if d:
        s = d["stops"]["comfy-init (run)"]
        codes = sorted(set(d["codes"]["comfy-init (run)"]))
        rows.append(["`docker stop` under 1 s (comfy-init)", f"{fmt_s(s.median)} (max {fmt_s(s.max)}), exit "
                     + "/".join(map(str, codes)), "met" if s.max < 1 else "**missed**"])
        p = d["stops"]["exec'd Python (no init)"]
        rows.append(["... where the exec'd Python takes about 10 s", f"{fmt_s(p.median)}, exit "
                     + "/".join(map(str, sorted(set(d["codes"]["exec'd Python (no init)"])))),
                     "as expected" if p.median > 9 else "**unexpected**"])
    return table(["target (issue 5)", "measured", ""], rows)


def render_standin(res, m, mode, runs, chart):
    out = ["# Benchmarks", "",
           "Made by `scripts/bench` (see the README's Benchmarks section); every figure is the median of several "
           "runs with min and max, every ratio compares medians measured in the same run, with the variants "
           "interleaved run by run. Stand-in = the fake ComfyUI of `Tests/Fixtures` (starts in a fraction of a "
           "second), so entrypoint overheads are not hidden behind torch's import; the real ComfyUI is reported "
           "separately at the end.", "", render_machine(m, mode, runs), "", "## Targets", "", targets_table(res)]
    if "warm" in res:
        out += ["", "## 1. Warm start (stand-in)", "",
                "Everything installed; process start to the first HTTP answer (any status) on the server's port, "
                "polled every 2 ms. The straight run uses comfy-init's checkout and venv; the bash baseline "
                "(`scripts/bench.d/baseline-entrypoint.sh`) has its own home (checkout, `login/PASSWORD`) and "
                "uses comfy-init's venv through a symlink, so that no entrypoint pays for page-cache misses "
                "on another venv than the one the others just used.", ""]
        if chart:
            out += [f"![warm start]({chart})", ""]
        out += [render_warm(res["warm"], res["overhead"], res.get("tokens"), "stand-in")]
    if "cold" in res:
        out += ["", "## 2. Cold start (stand-in)", "",
                "Empty home to the first HTTP answer: clone (from local git repos), venv, install (from "
                "`.cache/wheels`, no index, no pip cache, a fresh uv cache each run), password hash, serve.", "",
                render_cold(res["cold"])]
    if "docker" in res:
        out += ["", "## 3. `docker stop`", "", render_docker(res["docker"])]
    if "init" in res:
        out += ["", "## 4. The init itself", "", render_init(res["init"])]
    if "health" in res:
        out += ["", "## 5. Health check", "", render_health(res["health"])]
    if "bcrypt" in res:
        out += ["", "## 6. bcrypt", "", render_bcrypt(res["bcrypt"]),
                "", "comfy-init has no verify command; its verify is timed as the auth phase it runs when the "
                "password file exists but `auth.stamp` does not vouch for it (taken from its log, ms resolution)."]
    if "auth" in res:
        out += ["", "## Auth through comfy-init (stand-in login node)", "", render_auth(res["auth"])]
    return "\n".join(out)


def render_real(r, m, mode, chart):
    w = r["warm"]
    t = w["times"]
    diff = t["comfy-init"].median - t["python main.py (straight)"].median
    o = r["overhead"]
    out = [REAL_BEGIN, "## Real ComfyUI", "",
           f"Run on {m['date']} ({m['cpu']}, {m['cores']} cores, {m['ram']}), `{mode}` mode, against "
           f"`../shared/tools/real-comfyui.sh`'s snapshot: ComfyUI `{r['snapshot']}` (tag v0.8.0-snapshot), "
           f"ComfyUI-Login `{r['login']}`, wheels from its local folder, `--cpu`. venv: {fmt_bytes(r['size']['venv'])}. "
           "Warm runs as in section 1 (the baseline shares comfy-init's venv, entrypoints take turns), with 1 s "
           "between the first answer and the stop signal.",
           "", table(["target", "measured", ""], [
               ["warm start within 0.2 s of `python main.py`", fmt_signed(diff), "met" if diff <= 0.2 else
                "**missed**"],
               ["≥ 10× less own time than the bash baseline", fmt_ratio(ratio(o["bash baseline"], o["comfy-init"])),
                "met" if ratio(o["bash baseline"], o["comfy-init"]) >= 10 else "**missed**"],
               ["SIGTERM stops comfy-init in under 1 s with exit 0 (host, each warm run)",
                f"{fmt_s(w['stops']['comfy-init'].median)} (max {fmt_s(w['stops']['comfy-init'].max)}), exit "
                + "/".join(map(str, w["codes"]["comfy-init"])),
                "met" if w["stops"]["comfy-init"].max < 1 and w["codes"]["comfy-init"] == [0] else "**missed**"]]),
           ""]
    notes = []
    if diff > 0.2:
        notes.append(f"The warm-start gap is not comfy-init's own work: that is {fmt_s(o['comfy-init'].median)} "
                     f"(exec to the server's exec, below); the rest is the server's own start varying from run to "
                     f"run (straight: {fmt_s(t['python main.py (straight)'].min)} to "
                     f"{fmt_s(t['python main.py (straight)'].max)}).")
    if w["stops"]["comfy-init"].max >= 1:
        py = w["stops"]["python main.py (straight)"]
        notes.append(f"The stop misses 1 s because ComfyUI itself takes that long to exit after SIGINT: a straight "
                     f"`python main.py` given SIGINT needs {fmt_s(py.median)} (max {fmt_s(py.max)}) too. comfy-init "
                     "adds nothing to it; SIGTERM forwarded as is would be faster but kills ComfyUI without its cleanup "
                     "(below).")
    if notes:
        out += [" ".join(notes), ""]
    if chart:
        out += [f"![warm start, real ComfyUI]({chart})", ""]
    out += [render_warm(w, o, r.get("tokens"), "real ComfyUI"), "",
            "What SIGTERM itself does to the real server (what tini, dumb-init and catatonit forward): "
            f"{fmt_s(r['sigterm']['times'].median)} (min {fmt_s(r['sigterm']['times'].min)}, max "
            f"{fmt_s(r['sigterm']['times'].max)}, {r['sigterm']['times'].n} runs), exit "
            + "/".join(map(str, r["sigterm"]["codes"])) + ": Python dies at once, without ComfyUI's cleanup. "
            "comfy-init's SIGINT lets ComfyUI run its `KeyboardInterrupt` path and exit 0; the time it takes is "
            "ComfyUI's own shutdown (interpreter finalization with torch loaded), the same as a straight "
            "`python main.py` stopped with Ctrl-C above.", "",
            table(["first start, empty home to first HTTP answer (1 run each"
                   + (", from the earlier run that installed the homes" if r.get("cold_reused") else "") + ")",
                   "seconds"], [[n, fmt_s(s) if s else "-"] for n, s in r["cold"].items()]), "",
            render_auth(r["auth"]), "",
            "Not measured on the real ComfyUI: `docker stop` (no image with torch is built here; the stand-in's "
            "figures apply, the init does the same), the init's own figures (independent of the server).",
            REAL_END]
    return "\n".join(out)


def plot(w, title, path):
    """A bar chart of median warm start (min-max whiskers) for the three entrypoints, with gnuplot."""
    if not shutil.which("gnuplot"):
        log("gnuplot is missing (scripts/setup installs gnuplot-nox): no chart")
        return None
    data = os.path.join(OUT, "chart.dat")
    names = {"python main.py (straight)": "python main.py\\n(straight, the floor)", "comfy-init": "comfy-init",
             "bash baseline": "bash baseline\\n(pip + bcrypt every start)"}
    colors = {"python main.py (straight)": "0x8c8c8c", "comfy-init": "0x2b7bba", "bash baseline": "0xd9534f"}
    with open(data, "w") as f:
        for i, n in enumerate(w["order"]):
            s = w["times"][n]
            f.write(f'{i} {s.median:.6f} {s.min:.6f} {s.max:.6f} {colors[n]} "{names[n]}" "{fmt_s(s.median)}"\n')
    top = max(w["times"][n].max for n in w["order"]) * 1.18
    script = f"""
set terminal pngcairo size 900,540 font 'DejaVu Sans,12'
set output '{path}'
set title "{title}" font 'DejaVu Sans,14'
set ylabel 'seconds to the first HTTP answer'
set style fill solid 0.85 noborder
set boxwidth 0.55
set grid ytics lc rgb '#dddddd'
set border 3
set bmargin 4
set xtics nomirror scale 0
set ytics nomirror
set xrange [-0.6:{len(w['order']) - 0.4}]
set yrange [0:{top:.4f}]
unset key
plot '{data}' using 1:2:5:xticlabels(6) with boxes lc rgb variable, \\
     '' using 1:3:(0):($4-$3) with vectors heads size 0.06,90 lc rgb '#333333' lw 1.5, \\
     '' using 1:4:7 with labels offset 0,1 font 'DejaVu Sans,12'
"""
    r = subprocess.run(["gnuplot"], input=script.encode(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        log("gnuplot failed: " + r.stdout.decode(errors="replace"))
        return None
    return path


def keep_real_section(path):
    """The real-ComfyUI section of an earlier BENCHMARKS.md, kept when this run did not measure it."""
    with contextlib.suppress(OSError):
        text = open(path).read()
        if REAL_BEGIN in text and REAL_END in text:
            return text[text.index(REAL_BEGIN):text.index(REAL_END) + len(REAL_END)]
    return None


def keep_standin_part(path):
    with contextlib.suppress(OSError):
        text = open(path).read()
        return text.split(REAL_BEGIN)[0].rstrip()
    return None


def to_jsonable(x):
    if isinstance(x, Sample):
        return x.to_json()
    if isinstance(x, dict):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    return x


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (about a third of the time)")
    ap.add_argument("--real", metavar="DIR", help="also measure the real ComfyUI that real-comfyui.sh made in DIR")
    ap.add_argument("--real-only", action="store_true", help="with --real: only the real ComfyUI section")
    ap.add_argument("--real-uv", action="store_true", help="with --real: also one cold start with uv")
    ap.add_argument("--real-reuse", action="store_true",
                    help="with --real: keep the homes (and first-start times) of an earlier --real run")
    ap.add_argument("--only", metavar="LIST", help="stand-in sections: warm,cold,docker,init,health,bcrypt")
    ap.add_argument("--no-docker", action="store_true", help="skip the docker stop section")
    ap.add_argument("--bin", default=os.path.join(ROOT, "dist", "comfy-init"), help="the comfy-init to measure")
    ap.add_argument("--base-image", default="comfy-init-base:bookworm")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: write the report again from bench-out/results-*.json")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"), help="the report (default BENCHMARKS.md); its charts go to docs/ beside it")
    args = ap.parse_args()
    if args.real_only and not args.real:
        ap.error("--real-only needs --real DIR")
    if args.real:
        args.real = os.path.realpath(args.real)
    if os.geteuid() != 0:
        ap.error("run as root (unshare --pid for the PID-1 reaping runs, docker)")

    if args.render:
        parts = load_results()
        if not parts:
            ap.error("no bench-out/results-*.json yet: run scripts/bench first")
        write_report(args.out, parts)
        return 0
    os.makedirs(OUT, exist_ok=True)
    lock = open(os.path.join(OUT, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        ap.error("another scripts/bench is running (bench-out/.lock)")
    bench = Bench(args)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        bench.run_all()
    except (BenchError, KeyboardInterrupt) as e:
        cleanup()
        log(f"failed: {e}" if isinstance(e, BenchError) else "interrupted")
        return 1
    finally:
        cleanup()

    m = machine_info(bench)
    for key in bench.results:
        with open(os.path.join(OUT, f"results-{key}.json"), "w") as f:
            json.dump(to_jsonable({"machine": m, "mode": bench.mode, "runs": bench.runs,
                                   "results": bench.results[key]}), f, indent=1)
    write_report(args.out, {key: (m, bench.mode, bench.runs, res) for key, res in bench.results.items()})
    log(f"wrote {os.path.relpath(args.out, ROOT)} in {time.monotonic() - bench.started:.0f} s")
    return 0


def load_results():
    """The parts that earlier runs saved in bench-out/results-*.json (for --render)."""
    parts = {}
    for key in ("standin", "real"):
        path = os.path.join(OUT, f"results-{key}.json")
        if os.path.exists(path):
            d = from_jsonable(json.load(open(path)))
            parts[key] = (d["machine"], d["mode"], d["runs"], d["results"])
    return parts


def write_report(out, parts):
    """BENCHMARKS.md from the parts measured (a part not measured now is kept from the file as it is)."""
    # The charts go to docs/ beside the report, so a report written elsewhere never replaces the committed ones.
    docs = os.path.join(os.path.dirname(os.path.abspath(out)), "docs")
    os.makedirs(docs, exist_ok=True)
    text = []
    if "standin" in parts:
        m, mode, runs, res = parts["standin"]
        chart = None
        if "warm" in res:
            chart = plot(res["warm"], f"Warm start, stand-in ComfyUI (median of {res['warm']['times']['comfy-init'].n}; "
                                      "whiskers: min-max)", os.path.join(docs, "bench-warm-start.png"))
        text.append(render_standin(res, m, mode, runs, chart and "docs/bench-warm-start.png"))
    else:
        text.append(keep_standin_part(out) or "# Benchmarks\n\n(no stand-in results yet: run scripts/bench)")
    if "real" in parts:
        m, mode, runs, r = parts["real"]
        chart = plot(r["warm"], f"Warm start, real ComfyUI --cpu (median of {r['warm']['times']['comfy-init'].n}; "
                                "whiskers: min-max)", os.path.join(docs, "bench-warm-start-real.png"))
        text.append(render_real(r, m, mode, chart and "docs/bench-warm-start-real.png"))
    else:
        kept = keep_real_section(out)
        if kept:
            text.append(kept)
    report = "\n\n".join(text) + "\n"
    with open(out, "w") as f:
        f.write(report)
    print(report)


def from_jsonable(x):
    if isinstance(x, dict):
        if set(x) == {"median", "min", "max", "n", "values"}:
            return Sample(x["values"])
        return {k: from_jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_jsonable(v) for v in x]
    return x


if __name__ == "__main__":
    # Started in the background by a non-interactive shell, we inherit SIGINT ignored, and an ignored
    # signal stays ignored across exec: the entrypoints we start (the bash baseline's python above all)
    # would then never see the SIGINT that stops them. A handled signal is reset to default on exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    sys.exit(main())
