"""Starting, waiting for, stopping and cleaning up the processes being measured, and running tools."""
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from common import OUT, SYSTEM_PATH, BenchError, log
from stats import Sample

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


def read_first_line(path):
    try:
        with open(path) as f:
            return f.readline().strip() or None
    except OSError:
        return None


def wait_authenticated(port, proc, timeout, token_file, first=None, host="127.0.0.1", path="/system_stats"):
    """Monotonic time of the first 200 on host:port for `GET path` with `Authorization: Bearer TOKEN`,
    TOKEN being line 1 of token_file (read at every poll: a first start writes it while it runs),
    polling every 2 ms. With auth on, the gate (comfy-gateway) answers at once (503 until comfy-init
    hands it the credential, then 502 until ComfyUI listens): only an authenticated 200 says the
    server answers. first (a dict): first["any"] gets the time of the first answer of any status."""
    deadline = time.monotonic() + timeout
    last = "nothing"
    while True:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with {proc.returncode} before an authenticated answer; "
                             f"log {proc.log_path}:\n{tail(proc.log_path)}")
        token = read_first_line(token_file)
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                   + (f"Authorization: Bearer {token}\r\n" if token else "") + "\r\n").encode()
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                s.sendall(request)
                data = s.recv(16)
                if data.startswith(b"HTTP/"):
                    answered = time.monotonic()
                    if first is not None and "any" not in first:
                        first["any"] = answered
                    last = data[9:12].decode(errors="replace")
                    with contextlib.suppress(OSError):  # the whole answer (see wait_http)
                        while s.recv(65536):
                            pass
                    if token and last == "200":
                        return answered
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"no authenticated 200 on port {port} within {timeout} s (last: {last})"
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


def hyperfine(cmds, runs, warmup, names, env=None):
    """hyperfine -N over cmds: {name: Sample of seconds}."""
    out = os.path.join(OUT, "hyperfine.json")
    run(["hyperfine", "-N", "--style", "none", "--warmup", str(warmup), "--runs", str(runs),
         "--export-json", out] + cmds, env=env)
    data = json.load(open(out))["results"]
    return {name: Sample(res["times"]) for name, res in zip(names, data)}
