"""What every section runs with, made once before the first: the comfy-init under test, the tools."""
import os
import shutil

from common import FIXTURES, HERE, OUT, PYTHON, WHEELS, BenchError, log
from procs import base_env, rm_tree, run


class Kit:
    """bin: the snapshot of the comfy-init under test; gateway: the comfy-gateway beside it (where
    comfy-init looks for its gate); stamp: stamp.c, built; upstream: gate-upstream.c, built; repos: the
    stand-in's git repos; tools: a venv with Python's bcrypt and uv; uv_path: a folder holding only uv,
    for PATH."""

    def __init__(self, bin, gateway, stamp, upstream, repos, tools, uv_path):
        self.bin, self.gateway, self.stamp, self.upstream = bin, gateway, stamp, upstream
        self.repos, self.tools, self.uv_path = repos, tools, uv_path


def prepare(binary, stand_in=True):
    """stand_in=False (the downloads' section alone): only the comfy-init snapshot; none of what the
    stand-in ComfyUI's sections need (the gate, the compiled helpers, the repos, the tools venv)."""
    binary = os.path.realpath(binary)
    os.makedirs(os.path.join(OUT, "bin"), exist_ok=True)
    if not os.access(binary, os.X_OK):
        raise BenchError(f"{binary} is missing; run scripts/build first (or pass --bin)")
    # A snapshot: a scripts/build during the run must not swap the binary between two sections.
    snapshot = os.path.join(OUT, "bin", "comfy-init")
    rm_tree(snapshot)
    shutil.copy2(binary, snapshot)
    if not stand_in:
        return Kit(snapshot, None, None, None, None, os.path.join(OUT, "tools"), None)
    # With auth on, comfy-init runs the gate it finds beside its own binary: the snapshot gets its own.
    gateway_src = os.path.join(os.path.dirname(binary), "comfy-gateway")
    if not os.access(gateway_src, os.X_OK):
        raise BenchError(f"{gateway_src} is missing (comfy-init runs it in front of ComfyUI); run scripts/build first")
    gateway = os.path.join(OUT, "bin", "comfy-gateway")
    rm_tree(gateway)
    shutil.copy2(gateway_src, gateway)
    for tool in ("hyperfine", "gcc", "git", "curl", "tini", "dumb-init", "catatonit", "unshare"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} is missing; run scripts/setup")
    stamp, upstream = (compiled(name) for name in ("stamp", "gate-upstream"))
    repos = os.path.join(OUT, "repos")
    run(["/bin/bash", os.path.join(FIXTURES, "make-standin-repos.sh"), FIXTURES, repos])
    tools = tools_venv()
    uv_path = os.path.join(OUT, "uvbin")
    os.makedirs(uv_path, exist_ok=True)
    uv_link = os.path.join(uv_path, "uv")
    rm_tree(uv_link)
    os.symlink(os.path.join(tools, "bin", "uv"), uv_link)
    return Kit(snapshot, gateway, stamp, upstream, repos, tools, uv_path)


def compiled(name):
    """bench-out/bin/NAME from scripts/bench.d/NAME.c, built when older than its source."""
    exe = os.path.join(OUT, "bin", name)
    src = os.path.join(HERE, name + ".c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        run(["gcc", "-O2", "-Wall", "-o", exe, src])
    return exe


def tools_venv():
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
