#!/usr/bin/env python3
"""scripts/bench: comfy-init's benchmark suite (issue 5). Python 3 standard library only.

On the stand-in ComfyUI of Tests/Fixtures (and with --real DIR on the real ComfyUI that
../shared/tools/real-comfyui.sh prepares) it measures:
  1. warm start to the first authenticated answer: python main.py straight (the floor), comfy-init, the
     bash baseline (scripts/bench.d/baseline-entrypoint.sh); and each entrypoint's own time from its
     exec to the server's exec (scripts/bench.d/stamp.c stands in for VENV/bin/python);
  2. cold start from an empty home and a local wheel folder: comfy-init with pip, with uv, the baseline;
  3. `docker stop` time and exit code: comfy-init, the exec'd Python, tini, dumb-init, catatonit;
  4. the init itself: binary size, memory while supervising, start+exit, reaping 1000 orphans;
  5. the health check: comfy-init health, curl, a Python one-liner;
  6. bcrypt at cost 12: comfy-init against Python's bcrypt;
  7. the gate (comfy-gateway) against nginx as a plain reverse proxy: added latency per request, the
     WebSocket relay rate, its memory idle and under 200 connections, and the warm start to the first
     authenticated answer through it against straight python (`scripts/bench gate`: only this one);
  8. downloads (issue 20): comfy-init provision against curl and aria2c, one big file from a local nginx
     that caps each connection (`scripts/bench download`: only this one; never part of the full run, which
     it would lengthen by minutes).
Every figure is the median of several runs with min and max. Variants are interleaved run by run,
and every ratio compares medians measured in the same invocation.
Work files go to bench-out/ (git-ignored); the report to BENCHMARKS.md, the chart to docs/.

This file is the checklist: options, the sections chosen, the report. Each section is a module of
scripts/bench.d/ whose measure() returns what the report shows of it:
  warm.py 1, cold.py 2, docker_stop.py 3, init.py 4, health.py 5, bcrypt_bench.py 6, gate.py 7 (with
  gate-upstream.c, gate-nginx.conf, gate-wrk.lua, gate_ws.py), download.py 8 (with download-nginx.conf),
  auth.py (ComfyUI-Login through comfy-init, before them), real.py (--real);
and report.py renders them all into BENCHMARKS.md (gate_report.py the gate's, download_report.py the
downloads'). What they share:
common.py (paths, BenchError, log), stats.py (Sample, formatting, tables), procs.py (start, wait for,
stop, clean up processes), targets.py (the ComfyUI run, the entrypoints, their homes), prepare.py (the
comfy-init under test and the tools), machine.py (the report's machine table).
"""
import argparse
import fcntl
import os
import signal
import sys
import time

import auth
import bcrypt_bench
import cold
import docker_stop
import download
import gate
import health
import init
import real
import report
import warm
from common import OUT, ROOT, BenchError, log
from machine import machine_info
from prepare import prepare
from procs import cleanup
from targets import baseline, comfy_init, make_home, share_venv, standin

# Repetitions. Quick keeps at least 2 (3 where cheap) so every figure still has a min and a max.
# gate_rounds: rounds of wrk runs of gate_seconds each; gate_ws_messages: text messages per relay run;
# download: downloads of each tool (COMFY_BENCH_DOWNLOAD_RUNS overrides it).
RUNS = {
    "full": dict(warm=15, overhead=15, cold=4, stop=5, memory=3, startexit=200, orphans=5, health=50, bcrypt=8,
                 real_warm=7, real_overhead=3, gate_rounds=5, gate_seconds=2, gate_ws_messages=100000, download=5),
    "quick": dict(warm=3, overhead=3, cold=2, stop=2, memory=2, startexit=30, orphans=2, health=10, bcrypt=3,
                  real_warm=3, real_overhead=2, gate_rounds=3, gate_seconds=1, gate_ws_messages=30000, download=2),
}
SECTIONS = ("warm", "cold", "docker", "init", "health", "bcrypt", "gate", "download")
# The full run's: the downloads' section runs only when named (a quarter of an hour at 1 GiB and 5 runs).
DEFAULT_SECTIONS = tuple(s for s in SECTIONS if s != "download")


def parse_options():
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("section", nargs="?", choices=SECTIONS,
                    help="only this section (as --only SECTION); `scripts/bench gate`: only the gate's; "
                         "`scripts/bench download`: only the downloads'")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (about a third of the time)")
    ap.add_argument("--real", metavar="DIR", help="also measure the real ComfyUI that real-comfyui.sh made in DIR")
    ap.add_argument("--real-only", action="store_true", help="with --real: only the real ComfyUI section")
    ap.add_argument("--real-uv", action="store_true", help="with --real: also one cold start with uv")
    ap.add_argument("--real-reuse", action="store_true",
                    help="with --real: keep the homes (and first-start times) of an earlier --real run")
    ap.add_argument("--only", metavar="LIST", help="stand-in sections: " + ",".join(SECTIONS))
    ap.add_argument("--no-docker", action="store_true", help="skip the docker stop section")
    ap.add_argument("--bin", default=os.path.join(ROOT, "dist", "comfy-init"), help="the comfy-init to measure")
    ap.add_argument("--base-image", default="comfy-init-base:bookworm")
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: write the report again from bench-out/results-*.json")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"), help="the report (default BENCHMARKS.md); its charts go to docs/ beside it")
    args = ap.parse_args()
    if args.section:
        if args.only:
            ap.error("give a section or --only, not both")
        args.only = args.section
    if args.only and not set(args.only.split(",")) <= set(SECTIONS):
        ap.error(f"--only takes {','.join(SECTIONS)}")
    if args.real_only and not args.real:
        ap.error("--real-only needs --real DIR")
    if args.real:
        args.real = os.path.realpath(args.real)
    if os.geteuid() != 0:
        ap.error("run as root (unshare --pid for the PID-1 reaping runs, docker)")
    return ap, args


def measure(kit, args, runs):
    """The sections chosen, in their order: {"standin": {section: result}, "real": result}."""
    results = {}
    if args.real_only:
        results["real"] = real.measure(kit, args.real, runs, args.real_reuse, args.real_uv)
        return results
    sections = set(args.only.split(",")) if args.only else set(DEFAULT_SECTIONS)
    if args.no_docker:
        sections.discard("docker")
    if "download" in sections:  # its own part of the report, and it needs no stand-in ComfyUI
        results["download"] = download.measure(kit, runs)
        sections.discard("download")
        if not sections:
            return results
    target = standin(kit)
    if sections == {"gate"}:  # its own part of the report: the stand-in part of BENCHMARKS.md stays
        log("stand-in: a first start into a fresh home (comfy-init)")
        ci_home, _ = make_home(target, "comfy-init", lambda h: comfy_init(kit, target, h))
        results["gate"] = gate.measure(kit, target, ci_home, runs)
        return results
    log("stand-in: first starts into fresh homes (comfy-init, baseline)")
    ci_home, _ = make_home(target, "comfy-init", lambda h: comfy_init(kit, target, h))
    bl_home, _ = make_home(target, "baseline", lambda h: baseline(target, h))
    homes = (ci_home, bl_home)
    share_venv(ci_home, bl_home)
    res = results["standin"] = {}
    res["auth"] = auth.measure(kit, target, ci_home)
    if "warm" in sections:
        res.update(warm.measure(kit, target, runs, homes))
    if "cold" in sections:
        res["cold"] = cold.measure(kit, target, runs["cold"])
    if "init" in sections:
        res["init"] = init.measure(kit, target, ci_home, runs)
    if "health" in sections:
        res["health"] = health.measure(kit, target, ci_home, runs["health"])
    if "bcrypt" in sections:
        res["bcrypt"] = bcrypt_bench.measure(kit, target, ci_home, runs["bcrypt"])
    if "docker" in sections:
        res["docker"] = docker_stop.measure(kit, args.base_image, runs["stop"])
    if "gate" in sections:
        results["gate"] = gate.measure(kit, target, ci_home, runs)
    if args.real:
        results["real"] = real.measure(kit, args.real, runs, args.real_reuse, args.real_uv)
    return results


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main():
    ap, args = parse_options()
    if args.render:
        parts = report.load_results()
        if not parts:
            ap.error("no bench-out/results-*.json yet: run scripts/bench first")
        report.write_report(args.out, parts)
        return 0

    os.makedirs(OUT, exist_ok=True)
    lock = open(os.path.join(OUT, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        ap.error("another scripts/bench is running (bench-out/.lock)")
    mode = "quick" if args.quick else "full"
    runs = RUNS[mode]
    started, load_start = time.monotonic(), os.getloadavg()
    signal.signal(signal.SIGTERM, interrupted)
    try:
        kit = prepare(args.bin, stand_in=(args.only or "") != "download" or bool(args.real))
        results = measure(kit, args, runs)
    except (BenchError, KeyboardInterrupt) as e:
        cleanup()
        log(f"failed: {e}" if isinstance(e, BenchError) else "interrupted")
        return 1
    finally:
        cleanup()

    m = machine_info(kit, started, load_start)
    report.save_results(m, mode, runs, results)
    report.write_report(args.out, {key: (m, mode, runs, res) for key, res in results.items()})
    log(f"wrote {os.path.relpath(args.out, ROOT)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    # Started in the background by a non-interactive shell, we inherit SIGINT ignored, and an ignored
    # signal stays ignored across exec: the entrypoints we start (the bash baseline's python above all)
    # would then never see the SIGINT that stops them. A handled signal is reset to default on exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    sys.exit(main())
