"""The real ComfyUI that ../shared/tools/real-comfyui.sh prepared in a folder (--real DIR): first
starts from an empty home, then warm starts, own times, tokens, auth and what SIGTERM does to it."""
import contextlib
import json
import os
import signal

import auth
import warm
from common import SYSTEM_PATH, BenchError, log
from procs import rm_tree, run, stop
from stats import Sample
from targets import Target, baseline, comfy_init, make_home, share_venv, start_to_answer, straight


def measure(kit, e2e, runs, reuse=False, with_uv=False):
    """reuse: keep the homes and first-start times of an earlier run; with_uv: one more first start, with uv."""
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
    if reuse and os.path.exists(cold_file) and os.path.exists(
            os.path.join(ci_home, "venv", ".comfy-init-stamp")) and os.path.exists(
            os.path.join(bl_home, "ComfyUI", "login", "PASSWORD")):
        log("real: reusing the installed homes of an earlier run (--real-reuse)")
        r["cold"] = json.load(open(cold_file))
        r["cold_reused"] = True
        return real_warm(kit, target, runs, r, (ci_home, bl_home))
    cold = {}
    log("real: first starts from an empty home (installs torch and friends; minutes each)")
    ci_home, cold["comfy-init (pip)"] = make_home(target, "comfy-init", lambda h: comfy_init(kit, target, h))
    bl_home, cold["bash baseline"] = make_home(target, "baseline", lambda h: baseline(target, h))
    if with_uv:
        uv_cache = os.path.join(target.dir, "uv-cache")
        rm_tree(uv_cache)
        _, cold["comfy-init (uv)"] = make_home(target, "uv", lambda h: comfy_init(
            kit, target, h, installer="uv", path=kit.uv_path + ":" + SYSTEM_PATH, UV_CACHE_DIR=uv_cache))
        rm_tree(target.home("uv"))
        rm_tree(uv_cache)
    r["cold"] = cold
    with open(cold_file, "w") as f:
        json.dump(cold, f)
    return real_warm(kit, target, runs, r, (ci_home, bl_home))


def real_warm(kit, target, runs, r, homes):
    ci_home = homes[0]
    share_venv(*homes)
    r["auth"] = auth.measure(kit, target, ci_home)
    r["warm"] = warm.warm(kit, target, runs["real_warm"], homes)
    r["overhead"] = warm.overhead(kit, target, runs["real_overhead"], homes)
    r["tokens"] = warm.token_drift(kit, target, homes)
    r["sigterm"] = sigterm_straight(target, ci_home, runs["real_overhead"])
    r["size"] = {"venv": du(os.path.join(ci_home, "venv"))}
    return r


def sigterm_straight(target, home, runs):
    """What tini, dumb-init and catatonit deliver: SIGTERM itself, whose default action kills Python
    at once (no KeyboardInterrupt, no cleanup): (stop seconds, exit codes)."""
    log(f"{target.key}: python main.py stopped by SIGTERM, {runs} runs")
    ep = straight(target, home)
    times, codes = Sample(), set()
    for _ in range(runs):
        _, proc, _ = start_to_answer(target, ep, "sigterm-python")
        dt, code = stop(proc, signal.SIGTERM, target.settle)
        times.add(dt)
        codes.add(code)
    return {"times": times, "codes": sorted(codes)}


def du(path):
    total = 0
    for base, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(base, f)).st_size
    return total
