"""6. bcrypt at cost 12: comfy-init's hash-password and its auth phase against Python's bcrypt."""
import json
import os
import subprocess
import time

from common import PASSWORD, BenchError, log
from procs import base_env, free_port, last_log_seconds, rm_tree, run, tail
from stats import Sample


def measure(kit, target, home, runs):
    log(f"bcrypt: cost 12, {runs} runs each")
    py = os.path.join(kit.tools, "bin", "python")
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
        h = run([kit.bin, "hash-password", "--cost", "12"], input=PASSWORD.encode(), env=base_env()).strip()
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
            subprocess.run([kit.bin, "bootstrap"], env=env, stdout=f, stderr=subprocess.STDOUT, check=True)
        v = last_log_seconds(boot_log, r"comfy-init: auth: login/PASSWORD unchanged.*\((\S+ m?s)\)")
        if v is None:
            raise BenchError(f"no auth line in {boot_log}:\n{tail(boot_log)}")
        s["ci_verify_phase"].add(v)
        with open(boot_log, "w") as f:
            subprocess.run([kit.bin, "bootstrap"], env=env, stdout=f, stderr=subprocess.STDOUT, check=True)
        s["ci_stamp_phase"].add(last_log_seconds(boot_log, r"comfy-init: auth: .*\((\S+ m?s)\)"))
    return s
