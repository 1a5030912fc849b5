"""5. The health check: an authenticated GET /system_stats against the running stand-in by
comfy-init health, curl and a Python one-liner (hyperfine)."""
import os

from common import PYTHON, log
from procs import base_env, hyperfine, stop
from targets import comfy_init, read_token, start_to_answer


def measure(kit, target, home, runs):
    log(f"health: {runs} runs each (hyperfine)")
    ep = comfy_init(kit, target, home)
    _, proc, port = start_to_answer(target, ep, "health")
    try:
        token = read_token(home)
        pwfile = os.path.join(home, "ComfyUI", "login", "PASSWORD")
        url = f"http://127.0.0.1:{port}/system_stats"
        one_liner = ("import urllib.request as r; t=open('%s').readline().strip(); "
                     "r.urlopen(r.Request('%s', headers={'Authorization': 'Bearer '+t}), timeout=5)"
                     % (pwfile, url))
        cmds = [f"{kit.bin} health",
                f"curl -fsS -o /dev/null -H 'Authorization: Bearer {token}' {url}",
                f'{PYTHON} -c "{one_liner}"']
        env = base_env()
        env.update(COMFYUI_HOME=home, COMFYUI_PORT=str(port), COMFYUI_LISTEN="127.0.0.1")
        res = hyperfine(cmds, runs, warmup=3, env=env, names=["comfy-init health", "curl", "python3 -c urllib"])
    finally:
        stop(proc, ep.stop_signal)
    return res
