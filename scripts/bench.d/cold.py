"""2. Cold start: an empty home to the first HTTP answer (clone, venv, install from the local wheel
folder, password hash, serve) for comfy-init with pip, with uv, and the bash baseline."""
import os
import re
import time

from common import PYTHON, SYSTEM_PATH, log
from procs import base_env, last_log_seconds, rm_tree, run, stop
from stats import Sample
from targets import baseline, comfy_init, start_to_answer


def measure(kit, target, runs):
    log(f"{target.key}: cold start, {runs} runs of 3 entrypoints + python3 -m venv alone")
    variants = [
        ("comfy-init (pip)", lambda home, rep: comfy_init(kit, target, home)),
        ("comfy-init (uv)", lambda home, rep: comfy_init(
            kit, target, home, installer="uv", path=kit.uv_path + ":" + SYSTEM_PATH,
            UV_CACHE_DIR=os.path.join(target.dir, f"uv-cache-{rep}"))),
        ("bash baseline", lambda home, rep: baseline(target, home)),
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
