"""8. Downloads (issue 20): one big file of random bytes over HTTPS from a local nginx that caps each
connection at 25 MiB/s (download-nginx.conf, limit_rate 25m), fetched and SHA-256-verified by
  a. comfy-init provision with a one-line manifest `https://127.0.0.1:PORT/big.bin big/big.bin SHA256`
     (COMFYUI_DOWNLOAD_CONNECTIONS=8; it verifies the SHA-256 before it places the file),
  b. curl, one connection, then sha256sum,
  c. aria2c -x8 -s8 --checksum=sha-256=... (Debian's aria2),
taking turns run by run (the order rotates), each into an empty folder (a fresh COMFYUI_HOME for
comfy-init). Wall time, and CPU time (user + system) of the command and the children it waited for
(os.wait4), not counting nginx's. The file is served from the page cache (made once, kept in bench-out/).

Runs and size default to 5 and 1 GiB (--quick: 2); COMFY_BENCH_DOWNLOAD_RUNS, COMFY_BENCH_DOWNLOAD_MIB and
COMFY_BENCH_DOWNLOAD_RATE (nginx's limit_rate, default 25m) override them for a quick check.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import time

from common import HERE, OUT, BenchError, log
from procs import base_env, first_line, free_port, rm_tree, run, start, stop
from stats import Sample

NGINX_CONF = os.path.join(HERE, "download-nginx.conf")
TOOLS = ("comfy-init", "curl", "aria2c")
CONNECTIONS = 8  # comfy-init's and aria2c's connections per file


def settings(runs):
    """(runs, bytes, nginx rate) with the environment's overrides."""
    count = int(os.environ.get("COMFY_BENCH_DOWNLOAD_RUNS") or runs["download"])
    mib = int(os.environ.get("COMFY_BENCH_DOWNLOAD_MIB") or 1024)
    rate = os.environ.get("COMFY_BENCH_DOWNLOAD_RATE") or "25m"
    if count < 1 or mib < 1:
        raise BenchError("COMFY_BENCH_DOWNLOAD_RUNS and COMFY_BENCH_DOWNLOAD_MIB must be at least 1")
    return count, mib << 20, rate


def measure(kit, runs):
    for tool in ("nginx", "curl", "aria2c", "openssl", "sha256sum"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is missing; run scripts/setup")
    count, size, rate = settings(runs)
    work = os.path.join(OUT, "download")
    os.makedirs(work, exist_ok=True)
    served = os.path.join(work, "served")
    sha256 = big_file(served, size)
    cert, key = certificate(work)
    port = free_port()
    nginx = start_nginx(work, served, cert, key, port, rate)
    url = f"https://127.0.0.1:{port}/big.bin"
    res = {"bytes": size, "rate": rate, "connections": CONNECTIONS, "runs": count,
           "overrides": [name for name in ("COMFY_BENCH_DOWNLOAD_RUNS", "COMFY_BENCH_DOWNLOAD_MIB",
                                           "COMFY_BENCH_DOWNLOAD_RATE") if os.environ.get(name)],
           "versions": {"nginx": first_line(["nginx", "-v"]).replace("nginx version: ", ""),
                        "curl": " ".join(first_line(["curl", "--version"]).split()[:2]),
                        "aria2c": first_line(["aria2c", "--version"])},
           "wall": {t: Sample() for t in TOOLS}, "cpu": {t: Sample() for t in TOOLS}}
    try:
        for i in range(count):
            order = TOOLS[i % len(TOOLS):] + TOOLS[:i % len(TOOLS)]
            for tool in order:
                wall, cpu = once(kit, tool, work, url, cert, sha256, size)
                res["wall"][tool].add(wall)
                res["cpu"][tool].add(cpu)
                log(f"download: run {i + 1}/{count} {tool}: {wall:.2f} s, CPU {cpu:.2f} s")
    finally:
        stop(nginx, signal.SIGTERM, timeout=10)
    return res


def big_file(folder, size):
    """folder/big.bin of `size` random bytes (kept across runs of the same size) and its SHA-256."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "big.bin")
    stamp = path + ".sha256"
    if os.path.exists(path) and os.path.getsize(path) == size and os.path.exists(stamp):
        return open(stamp).read().strip()
    log(f"download: writing {size >> 20} MiB of random bytes to {os.path.relpath(path, OUT)}")
    digest = hashlib.sha256()
    with open(path + ".tmp", "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    os.rename(path + ".tmp", path)
    with open(stamp, "w") as f:
        f.write(digest.hexdigest() + "\n")
    return digest.hexdigest()


def certificate(work):
    """A self-signed certificate for 127.0.0.1 (made once), trusted by every client through its CA option."""
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "3650", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"])
    return cert, key


def start_nginx(work, served, cert, key, port, rate):
    prefix = os.path.join(work, "nginx")
    rm_tree(prefix)
    os.makedirs(prefix)
    text = open(NGINX_CONF).read()
    for name, value in (("@PREFIX@", prefix), ("@PORT@", str(port)), ("@CERT@", cert), ("@KEY@", key),
                        ("@ROOT@", served), ("@RATE@", rate)):
        text = text.replace(name, value)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(text)
    proc = start(["nginx", "-p", prefix, "-c", conf, "-g", "daemon off;"], base_env(), os.path.join(work, "nginx.log"))
    deadline = time.monotonic() + 30
    while subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", cert, "-r", "0-0",
                          f"https://127.0.0.1:{port}/big.bin"]).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"nginx did not serve on {port}; see {os.path.join(work, 'nginx.log')} and "
                             f"{prefix}/nginx-error.log")
        time.sleep(0.1)
    return proc


def command(kit, tool, work, url, cert, sha256):
    """(argv, env, where the file lands) for one tool, into an empty folder."""
    env = base_env()
    if tool == "comfy-init":
        home = os.path.join(work, "home")
        models = os.path.join(home, "ComfyUI", "models")
        os.makedirs(models)
        manifest = os.path.join(work, "manifest.txt")
        with open(manifest, "w") as f:
            f.write(f"{url} big/big.bin {sha256}\n")
        env.update({"COMFYUI_HOME": home, "COMFYUI_MODELS_MANIFEST": manifest, "CURL_CA_BUNDLE": cert,
                    "SSL_CERT_FILE": cert, "COMFYUI_DOWNLOAD_CONNECTIONS": str(CONNECTIONS)})
        return [kit.bin, "provision"], env, os.path.join(models, "big", "big.bin")
    out = os.path.join(work, "out")
    os.makedirs(out)
    target = os.path.join(out, "big.bin")
    if tool == "curl":
        # One connection, then the checksum: what a script with curl does. sha256sum's line is checked below.
        script = 'curl -sS --fail --cacert "$1" -o "$2" "$3" && sha256sum "$2"'
        return ["/bin/sh", "-c", script, "sh", cert, target, url], env, target
    return (["aria2c", f"-x{CONNECTIONS}", f"-s{CONNECTIONS}", f"--checksum=sha-256={sha256}",
             f"--ca-certificate={cert}", "-d", out, "-o", "big.bin", "--allow-overwrite=true",
             "--auto-file-renaming=false", "--console-log-level=warn", "--summary-interval=0", "--quiet=true", url],
            env, target)


def once(kit, tool, work, url, cert, sha256, size):
    """One download: (wall seconds, CPU seconds of the command and the children it waited for)."""
    for name in ("home", "out"):
        rm_tree(os.path.join(work, name))
    argv, env, target = command(kit, tool, work, url, cert, sha256)
    log_path = os.path.join(work, f"{tool}.log")
    with open(log_path, "wb") as logf:
        began = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=logf)
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"{tool} failed with {proc.returncode}; log {log_path}:\n" + open(log_path).read()[-2000:])
    if tool == "curl" and output.split()[:1] != [sha256.encode()]:
        raise BenchError(f"curl's file has SHA-256 {output.decode(errors='replace').strip()}, not {sha256}")
    if not os.path.exists(target) or os.path.getsize(target) != size:
        raise BenchError(f"{tool} left no {size}-byte file at {target}")
    return wall, usage.ru_utime + usage.ru_stime
