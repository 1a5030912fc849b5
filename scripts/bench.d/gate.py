"""7. The gate (comfy-gateway, issue 18): what it costs in front of ComfyUI, against Debian's nginx as a
plain reverse proxy (gate-nginx.conf) in front of the same upstream, measured in the same run with the
variants taking turns (the order rotates every round):
  a. latency per request with wrk (p50, p99) straight to the upstream, through nginx, through the gate:
     GET /system_stats, a small POST /prompt and a 10 MB upload, at 1 and at 50 connections, in front
     of gate-upstream.c (a trivial upstream, so that the proxies' own cost is not hidden behind the
     stand-in's), and GET /system_stats in front of the stand-in ComfyUI; the proxies' CPU time and
     context switches per request;
  b. WebSocket relay: messages per second from an upstream that sends them as fast as the socket
     takes them (gate_ws.py), small text events and 64 KiB binary previews;
  c. memory (VmRSS, VmHWM of /proc/PID/status): a fresh gate idle, under 200 HTTP connections (wrk),
     with 200 WebSockets open; nginx's master and workers under the same;
  d. warm start to the first authenticated answer: comfy-init run (the gate in front, as comfy-init
     runs it with auth on) against a straight `python main.py`; and how long after an upstream that was
     down for a while starts listening a request waiting at the gate is answered (a restart).
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import threading
import time

from common import HERE, PYTHON, BenchError, log
from procs import STARTED, base_env, first_line, free_port, run, start, stop, tail, wait_authenticated
from stats import Sample
from targets import comfy_init, read_token, start_to_answer, straight, token_file

NGINX_CONF = os.path.join(HERE, "gate-nginx.conf")
WRK_LUA = os.path.join(HERE, "gate-wrk.lua")
WS_PEER = os.path.join(HERE, "gate_ws.py")
VIAS = ("direct", "nginx", "gate")
CONNECTIONS = (1, 50)
HOLD = 200  # connections for the memory figures
PROMPT = {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1,
                                                                   "color": 3368652}},
                     "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "bench"}}},
          "client_id": "bench-gate"}
UPLOAD_BYTES = 10 * 1000 * 1000


def measure(kit, target, home, runs):
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is missing; run scripts/setup")
    work = os.path.join(target.dir, "gate")
    os.makedirs(work, exist_ok=True)
    cred = token_file(home)  # ComfyUI-Login's PASSWORD: the hash (the token), then the user
    token = read_token(home)
    cases = bodies(work)
    rounds, seconds = runs["gate_rounds"], runs["gate_seconds"]
    res = {"gateway_size": os.path.getsize(kit.gateway),
           "versions": {"nginx": first_line(["nginx", "-v"]), "wrk": first_line(["wrk", "-v"]),
                        "comfy-gateway": first_line([kit.gateway, "--version"])}}
    res["http"] = http_latency(kit, work, cred, token, cases, rounds, seconds)
    res["standin"] = standin_latency(home, token, rounds)
    res["ws"] = ws_relay(kit, work, cred, token, rounds, runs["gate_ws_messages"])
    res["memory"] = memory(kit, work, cred, token, runs["memory"], seconds)
    res["warm"] = warm_start(kit, target, home, runs["warm"])
    res["restart"] = restart_delay(kit, work, cred, token, runs["memory"])
    return res


def bodies(work):
    """The requests of part a: (name, method, path, body file, content type)."""
    prompt = os.path.join(work, "prompt.json")
    with open(prompt, "w") as f:
        json.dump(PROMPT, f)
    upload = os.path.join(work, "upload-10mb.bin")
    if not os.path.exists(upload) or os.path.getsize(upload) != UPLOAD_BYTES:
        with open(upload, "wb") as f:
            f.write(os.urandom(UPLOAD_BYTES))
    return [("GET /system_stats", "GET", "/system_stats", None, None),
            (f"POST /prompt ({os.path.getsize(prompt)} B JSON)", "POST", "/prompt", prompt, "application/json"),
            ("POST /upload/image (10 MB)", "POST", "/upload/image", upload, "application/octet-stream")]


# ---------------------------------------------------------------- processes

class Front:
    """An upstream, nginx and the gate in front of it: procs and ports by via. A gate that dies (a
    crash: it traps on a Swift precondition) is started again on the same port, and the crash counted."""

    def __init__(self, kit, work, name, upstream_cmd, upstream_port, cred, cwd=None, env=None):
        self.name, self.work = name, work
        self.ports = {"direct": upstream_port, "nginx": free_port(), "gate": free_port()}
        self.procs = {"direct": start(upstream_cmd, env or base_env(), os.path.join(work, f"{name}-upstream.log"),
                                      cwd)}
        prefix = os.path.join(work, f"nginx-{name}")
        os.makedirs(prefix, exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(NGINX_CONF) as f:
            text = f.read()
        for key, value in (("@PREFIX@", prefix), ("@PORT@", str(self.ports["nginx"])),
                           ("@UPSTREAM_PORT@", str(upstream_port))):
            text = text.replace(key, value)
        with open(conf, "w") as f:
            f.write(text)
        self.procs["nginx"] = start(["nginx", "-p", prefix, "-c", conf, "-g", "daemon off;"], base_env(),
                                    os.path.join(work, f"{name}-nginx.log"))
        self.gate_cmd = [kit.gateway, "gate", "--listen", "127.0.0.1", "--port", str(self.ports["gate"]),
                         "--upstream", f"http://127.0.0.1:{upstream_port}", "--password-hash-file", cred]
        self.crashes = []  # (what ran, exit status)
        self.start_gate()
        for via in VIAS:
            wait_port(self.ports[via], self.procs[via])

    def start_gate(self):
        self.procs["gate"] = start(self.gate_cmd, base_env(), os.path.join(self.work, f"{self.name}-gate.log"))

    def gate_died(self, during, wait=0.0):
        """True when the gate is gone (waiting up to `wait` s for a dying one: a trap writes its core
        first); it is then counted and started again."""
        proc = self.procs["gate"]
        deadline = time.monotonic() + wait
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            return False
        self.crashes.append((during, proc.returncode))
        log(f"gate: comfy-gateway died (exit status {proc.returncode}) during {during}; starting it again")
        self.start_gate()
        wait_port(self.ports["gate"], self.procs["gate"])
        return True

    def stop(self, stops=None):
        stop_front(self.procs, stops)


def wait_port(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited with {proc.returncode}; log {proc.log_path}:\n"
                             + tail(proc.log_path))
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        if time.monotonic() > deadline:
            raise BenchError(f"nothing listens on {port} within {timeout} s; log {proc.log_path}")
        time.sleep(0.01)


def stop_front(procs, stops=None):
    """Stops the gate (SIGTERM: how long, what exit code, into stops), nginx and the upstream."""
    for via in ("gate", "nginx", "direct"):
        proc = procs[via]
        if proc.poll() is not None:
            if stops is not None and via == "gate":
                stops.append((None, proc.returncode))
            continue
        try:
            dt, code = stop(proc, signal.SIGTERM, timeout=10, again_after=10)
        except BenchError:
            dt, code = float("inf"), None
        if stops is not None and via == "gate":
            stops.append((dt, code))


def children(pid):
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p))
    return out


def watched(procs, via):
    """The processes whose work a via adds: the gate; nginx's workers (its master only supervises)."""
    if via == "gate":
        return [procs["gate"].pid]
    if via == "nginx":
        return children(procs["nginx"].pid)
    return []


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def switches(pids):
    """Context switches of every live thread (an exited thread's are lost: the figure is a floor)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    for line in open(f"/proc/{pid}/task/{tid}/status"):
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
    return total


def status_bytes(pid, keys=("VmRSS", "VmHWM", "RssAnon", "RssFile")):
    out = {}
    with contextlib.suppress(OSError):
        for line in open(f"/proc/{pid}/status"):
            key = line.split(":", 1)[0]
            if key in keys:
                out[key] = int(line.split()[1]) * 1024
    return out


def rss(pids):
    return sum(status_bytes(pid).get("VmRSS", 0) for pid in pids)


class PeakRSS:
    """The highest VmRSS sum of pids_fn() seen while it runs, sampled every 20 ms."""

    def __init__(self, pids_fn):
        self.pids_fn, self.peak, self.done = pids_fn, 0, threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.done.is_set():
            self.peak = max(self.peak, rss(self.pids_fn()))
            self.done.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss(self.pids_fn()))


def wrk(port, case, conns, seconds, token):
    """One wrk run: {requests, rps, p50, p99, max (seconds), errors (socket), status (>= 400)}."""
    _, method, path, body, ctype = case
    env = base_env()
    env.update(BENCH_TOKEN=token, BENCH_METHOD=method, BENCH_BODY_FILE=body or "", BENCH_BODY_TYPE=ctype or "")
    out = run(["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", WRK_LUA, f"http://127.0.0.1:{port}{path}"], env=env, timeout=seconds + 120)
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise BenchError(f"wrk printed no result line:\n{out[-2000:]}")
    requests, duration, connect, read, write, status, timeouts, p50, p99, worst = map(int, line.split()[1:])
    return {"requests": requests, "rps": requests / (duration / 1e6) if duration else 0.0, "p50": p50 / 1e6,
            "p99": p99 / 1e6, "max": worst / 1e6, "errors": connect + read + write + timeouts, "status": status}


# ---------------------------------------------------------------- a. latency

def new_cell():
    return {"p50": Sample(), "p99": Sample(), "rps": Sample(), "cpu": Sample(), "cs": Sample(), "errors": 0,
            "status": 0, "requests": 0}


def latency_rounds(front, cases, connections, rounds, seconds, token):
    """{case: {connections: {via: cell}}}, the vias taking turns in a rotating order. A run in which
    the gate died counts as a crash, not as figures."""
    cells = {c[0]: {n: {via: new_cell() for via in VIAS} for n in connections} for c in cases}
    for via in VIAS:  # warm-up: connections, caches, the gate's pool
        wrk(front.ports[via], cases[0], 1, 1, token)
    for r in range(rounds):
        order = VIAS[r % 3:] + VIAS[:r % 3]
        for case in cases:
            for n in connections:
                for via in order:
                    during = f"{case[0]} at {n} connection{'s' if n > 1 else ''}"
                    if via == "gate":
                        front.gate_died("the run before " + during)
                    pids = watched(front.procs, via)
                    c0, s0 = cpu_seconds(pids), switches(pids)
                    w = wrk(front.ports[via], case, n, seconds, token)
                    if via == "gate" and front.gate_died(during, wait=3.0 if w["errors"] else 0.2):
                        continue
                    cell = cells[case[0]][n][via]
                    for key in ("p50", "p99", "rps"):
                        cell[key].add(w[key])
                    for key in ("errors", "status", "requests"):
                        cell[key] += w[key]
                    if pids and w["requests"]:
                        cell["cpu"].add((cpu_seconds(pids) - c0) / w["requests"])
                        cell["cs"].add((switches(pids) - s0) / w["requests"])
    return cells


def http_latency(kit, work, cred, token, cases, rounds, seconds):
    up = free_port()
    log(f"gate: latency, {len(cases)} requests × {len(CONNECTIONS)} concurrencies × {len(VIAS)} ways, "
        f"{rounds} rounds of {seconds} s (trivial upstream)")
    front = Front(kit, work, "trivial", [kit.upstream, str(up)], up, cred)
    stops = []
    try:
        cells = latency_rounds(front, cases, CONNECTIONS, rounds, seconds, token)
        after = status_bytes(front.procs["gate"].pid)
        served = sum(cells[c[0]][n]["gate"]["requests"] for c in cases for n in CONNECTIONS)
    finally:
        front.stop(stops)
    return {"cells": cells, "cases": [c[0] for c in cases], "connections": list(CONNECTIONS),
            "gate_after": after, "gate_served": served, "gate_stops": stops, "crashes": front.crashes}


def standin_latency(home, token, rounds):
    """GET /system_stats at 1 connection straight to the stand-in ComfyUI of the comfy-init home: why
    the proxies are measured in front of the trivial upstream instead."""
    up = free_port()
    log(f"gate: the stand-in ComfyUI's own latency, {rounds} runs of 1 s")
    env = base_env()
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [os.path.join(home, "venv", "bin", "python"), "main.py", "--listen", "127.0.0.1", "--port", str(up),
           "--cpu"]
    proc = start(cmd, env, os.path.join(home, "..", "logs", "gate-standin.log"), os.path.join(home, "ComfyUI"))
    case = ("GET /system_stats", "GET", "/system_stats", None, None)
    cell = new_cell()
    try:
        wait_authenticated(up, proc, 60, token_file(home))
        for _ in range(rounds):
            w = wrk(up, case, 1, 1, token)
            for key in ("p50", "p99", "rps"):
                cell[key].add(w[key])
            for key in ("errors", "status", "requests"):
                cell[key] += w[key]
    finally:
        stop(proc, signal.SIGTERM)
    return cell


# ---------------------------------------------------------------- b. WebSocket relay

def ws_relay(kit, work, cred, token, rounds, count):
    kinds = [("text", count, 120), ("binary", max(count // 100, 100), 65536)]
    log(f"gate: WebSocket relay, {rounds} rounds × {len(VIAS)} ways × {len(kinds)} kinds")
    up = free_port()
    front = Front(kit, work, "ws", [PYTHON, WS_PEER, "serve", str(up)], up, cred)
    ports = front.ports
    out = {"kinds": [{"kind": k, "count": n, "size": s} for k, n, s in kinds], "rates": {}, "bytes": {},
           "incomplete": {}, "to_first": {}}
    for kind, _, _ in kinds:
        for via in VIAS:
            key = f"{kind} {via}"
            out["rates"][key], out["bytes"][key], out["to_first"][key], out["incomplete"][key] = \
                Sample(), Sample(), Sample(), 0
    try:
        out["gate_before"] = status_bytes(front.procs["gate"].pid)
        for r in range(rounds):
            order = VIAS[r % 3:] + VIAS[:r % 3]
            for kind, n, size in kinds:
                for via in order:
                    key = f"{kind} {via}"
                    url = f"ws://127.0.0.1:{ports[via]}/ws?count={n}&size={size}&kind={kind}"
                    text = run([PYTHON, "-B", WS_PEER, "client", url, token], check=False, timeout=300)
                    try:
                        d = json.loads(text.strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        d = {"messages": 0}
                    if via == "gate":
                        front.gate_died(f"the {kind} WebSocket relay", wait=0.2)
                    if d.get("messages") != n or not d.get("seconds"):
                        out["incomplete"][key] += 1
                        out.setdefault("incomplete_seen", []).append(
                            f"{key}: {d.get('messages')} of {n} messages, "
                            + ("closed with a close frame" if d.get("closed") else "no close frame"))
                        log(f"gate: {key}: {text.strip()[-300:]}")
                        continue
                    out["rates"][key].add(n / d["seconds"])
                    out["bytes"][key].add(d["bytes"] / d["seconds"])
                    out["to_first"][key].add(d["to_first"])
        out["gate_after"] = status_bytes(front.procs["gate"].pid)
        out["gate_relayed"] = sum(n for _, n, _ in kinds) * rounds
    finally:
        front.stop()
    out["crashes"] = front.crashes
    return out


# ---------------------------------------------------------------- c. memory

def open_websockets(port, token, n, path):
    """n WebSockets held open on port: (sockets, how many got 101)."""
    socks, upgraded = [], 0
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n")
                  .encode())
        socks.append(s)
    for s in socks:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
        upgraded += head.startswith(b"HTTP/1.1 101")
    return socks, upgraded


def memory(kit, work, cred, token, runs, seconds):
    log(f"gate: memory, {runs} fresh gates: idle, {HOLD} HTTP connections, {HOLD} WebSockets")
    keys = ("idle", "one request", "http load", "after load", "ws idle", "ws open")
    out = {"gate": {k: Sample() for k in keys}, "nginx": {k: Sample() for k in keys},
           "gate_anon_idle": Sample(), "gate_file_idle": Sample(), "gate_hwm": Sample(),
           "http": {"gate": [], "nginx": []}, "ws_upgraded": {"gate": [], "nginx": []}, "crashes": []}
    case = ("GET /system_stats", "GET", "/system_stats", None, None)
    load = max(seconds, 3)
    for _ in range(runs):
        up = free_port()
        front = Front(kit, work, "memory", [kit.upstream, str(up)], up, cred)
        try:
            time.sleep(0.5)
            for via in ("gate", "nginx"):
                def pids(f=front, v=via):  # nginx: its master and its workers
                    return [f.procs[v].pid] + (watched(f.procs, v) if v == "nginx" else [])
                out[via]["idle"].add(rss(pids()))
                if via == "gate":
                    s = status_bytes(front.procs["gate"].pid)
                    out["gate_anon_idle"].add(s.get("RssAnon", 0))
                    out["gate_file_idle"].add(s.get("RssFile", 0))
                conn = http.client.HTTPConnection("127.0.0.1", front.ports[via], timeout=30)
                conn.request("GET", "/system_stats", headers={"Authorization": "Bearer " + token})
                conn.getresponse().read()
                conn.close()
                out[via]["one request"].add(rss(pids()))
                with PeakRSS(pids) as peak:
                    w = wrk(front.ports[via], case, HOLD, load, token)
                out[via]["http load"].add(peak.peak)
                out["http"][via].append({k: w[k] for k in ("rps", "p50", "p99", "errors", "status", "requests")})
            time.sleep(2)
            for via in ("gate", "nginx"):
                out[via]["after load"].add(rss([front.procs[via].pid] + (watched(front.procs, via) if via == "nginx"
                                                                          else [])))
            out["gate_hwm"].add(status_bytes(front.procs["gate"].pid).get("VmHWM", 0))
            front.gate_died(f"{HOLD} HTTP connections")
        finally:
            front.stop()
        out["crashes"] += front.crashes
        up = free_port()
        front = Front(kit, work, "memory-ws", [PYTHON, WS_PEER, "serve", str(up)], up, cred)
        try:
            time.sleep(0.5)
            for via in ("gate", "nginx"):
                def pids(f=front, v=via):
                    return [f.procs[v].pid] + (watched(f.procs, v) if v == "nginx" else [])
                out[via]["ws idle"].add(rss(pids()))
                with PeakRSS(pids) as peak:
                    socks, upgraded = open_websockets(front.ports[via], token, HOLD,
                                                      "/ws?count=10&size=120&kind=text&hold=1")
                    time.sleep(1)
                for sock in socks:
                    sock.close()
                out[via]["ws open"].add(peak.peak)
                out["ws_upgraded"][via].append(upgraded)
            front.gate_died(f"{HOLD} WebSockets")
        finally:
            front.stop()
        out["crashes"] += front.crashes
    return out


# ---------------------------------------------------------------- d. warm start

def gateways_running(kit):
    """Gates of kit.gateway alive that this script did not start itself (comfy-init's)."""
    ours = {p.pid for p in STARTED if p.poll() is None}
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/exe") == os.path.realpath(kit.gateway) and int(pid) not in ours:
                found.append(int(pid))
    return found


def warm_start(kit, target, home, runs):
    eps = [straight(target, home), comfy_init(kit, target, home)]
    log(f"gate: warm start to the first authenticated answer, {runs} runs of {len(eps)} (+1 warm-up round)")
    out = {"order": [ep.name for ep in eps], "times": {}, "first_any": {}, "stops": {}, "codes": {},
           "gate_exit": Sample(), "gates_left": 0}
    for ep in eps:
        out["times"][ep.name], out["first_any"][ep.name], out["stops"][ep.name] = Sample(), Sample(), Sample()
        out["codes"][ep.name] = set()
    for i in range(runs + 1):
        for ep in eps:
            first = {}
            seconds, proc, _ = start_to_answer(target, ep, "gate-warm-" + ep.name.split()[0], first)
            dt, code = stop(proc, ep.stop_signal, target.settle)
            if ep.name == "comfy-init":
                lag = gate_exit(kit)
                if lag is None:
                    out["gates_left"] += 1
                elif i:
                    out["gate_exit"].add(lag)
            if i == 0:
                continue
            out["times"][ep.name].add(seconds)
            out["first_any"][ep.name].add(first["any"])
            out["stops"][ep.name].add(dt)
            out["codes"][ep.name].add(code)
    out["codes"] = {k: sorted(v) for k, v in out["codes"].items()}
    return out


def gate_exit(kit, timeout=5.0):
    """Seconds from comfy-init's exit until its gate is gone too; None (and it is killed) when it is
    still there after timeout."""
    t0 = time.monotonic()
    while True:
        alive = gateways_running(kit)
        if not alive:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            for pid in alive:  # comfy-init's gate outlived it: ours to end
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            return None
        time.sleep(0.005)


def restart_delay(kit, work, cred, token, runs, downs=(0.5, 2.0, 8.0), interval=0.05):
    """The upstream down for `down` seconds (as while ComfyUI restarts) while a client polls through the
    gate and through nginx, one authenticated GET every `interval` s after the last answer (as a probe
    or a waiting client does): {via: {down: Sample of seconds from the upstream listening to the first
    200}}, and the longest a single request waited."""
    log(f"gate: polling across an upstream restart, {runs} runs of {len(downs)} down times")
    out = {"downs": list(downs), "interval": interval,
           "delay": {via: {str(d): Sample() for d in downs} for via in ("nginx", "gate")},
           "longest": {via: {str(d): Sample() for d in downs} for via in ("nginx", "gate")},
           "statuses": {via: {str(d): {} for d in downs} for via in ("nginx", "gate")}}
    for _ in range(runs):
        for down in downs:
            up = free_port()
            front = Front(kit, work, "restart", [kit.upstream, str(up)], up, cred)
            try:
                front.procs["direct"].terminate()  # the upstream goes away; nginx and the gate stay
                front.procs["direct"].wait(10)
                seen = {}
                pollers = [threading.Thread(target=poll, daemon=True,
                                            args=(front.ports[via], token, interval, seen.setdefault(via, [])))
                           for via in ("nginx", "gate")]
                for t in pollers:
                    t.start()
                time.sleep(down)
                front.procs["direct"] = start([kit.upstream, str(up)], base_env(),
                                              os.path.join(work, "restart-upstream.log"))
                wait_port(up, front.procs["direct"])
                listening = time.monotonic()
                for t in pollers:
                    t.join(120)
                for via, answers in seen.items():
                    first = next((at for sent, at, status in answers if status == 200), None)
                    if first is not None:
                        out["delay"][via][str(down)].add(max(first - listening, 0.0))
                    out["longest"][via][str(down)].add(max((at - sent for sent, at, _ in answers), default=0.0))
                    counts = out["statuses"][via][str(down)]
                    for _, _, status in answers:
                        counts[str(status)] = counts.get(str(status), 0) + 1
            finally:
                front.stop()
    return out


def poll(port, token, interval, answers, limit=120.0):
    """GET /system_stats with the token until a 200 (or `limit` s): answers gets (sent, answered, status)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sent = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
        try:
            conn.request("GET", "/system_stats", headers={"Authorization": "Bearer " + token})
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError as e:
            status = type(e).__name__
        finally:
            conn.close()
        answers.append((sent, time.monotonic(), status))
        if status == 200:
            return
        time.sleep(interval)
