"""The machine a run measured on and the versions of what it measured, for the report's first table."""
import contextlib
import datetime
import hashlib
import os
import platform
import subprocess
import time

from common import PYTHON, ROOT
from procs import first_line


def machine_info(kit, started, load_start):
    """started: time.monotonic() and load_start: os.getloadavg() when the run began."""
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
    with open(kit.bin, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    docker = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL).stdout.decode().strip() or "not running"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": f"{load_start[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end",
        "duration": f"{time.monotonic() - started:.0f} s",
        "cpu": cpu, "cores": os.cpu_count(), "ram": f"{mem / (1 << 30):.1f} GiB", "kernel": platform.release(),
        "os": osname,
        "versions": [
            ("comfy-init", f"{first_line([kit.bin, 'version'])}, sha256 {digest}…, repo at {head}"),
            ("python3", first_line([PYTHON, "--version"])),
            ("pip", first_line([os.path.join(kit.tools, "bin", "pip"), "--version"]).split(" from ")[0]),
            ("uv", first_line([os.path.join(kit.tools, "bin", "uv"), "--version"])),
            ("git", first_line(["git", "--version"])),
            ("tini", first_line(["tini", "--version"])),
            ("dumb-init", first_line(["dumb-init", "--version"])),
            ("catatonit", first_line(["catatonit", "--version"])),
            ("curl", " ".join(first_line(["curl", "--version"]).split()[:2])),
            ("hyperfine", first_line(["hyperfine", "--version"])),
            ("Docker engine", docker),
        ],
    }
