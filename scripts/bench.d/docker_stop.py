"""3. `docker stop`: time and exit code of the same stand-in server behind comfy-init, the exec'd
Python (no init), tini, dumb-init and catatonit, in an image built from scripts/bench.d/Dockerfile."""
import hashlib
import os
import shutil
import subprocess
import time

from common import HERE, OUT, ROOT, WHEELS, BenchError, log
from procs import CONTAINERS, rm_tree, run, wait_authenticated
from stats import Sample


def measure(kit, base_image, runs):
    if subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        raise BenchError("the Docker engine does not answer; run scripts/docker-engine (or pass --no-docker)")
    if subprocess.run(["docker", "image", "inspect", base_image], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        run([os.path.join(ROOT, "scripts", "base-image"), base_image], capture=False)
    tag = image(kit, base_image)
    # The bearer token the image's bootstrap wrote: every entrypoint is waited for until it answers an
    # authenticated request (comfy-init's gate answers at once, before the server is up).
    token = os.path.join(OUT, "docker-token")
    with open(token, "w") as f:
        f.write(run(["docker", "run", "--rm", "--entrypoint", "head", tag, "-n", "1",
                     "/opt/comfyui/ComfyUI/login/PASSWORD"]))
    py = ["/opt/comfyui/venv/bin/python", "main.py", "--listen", "0.0.0.0", "--port", "8188", "--cpu"]
    variants = [
        ("comfy-init (run)", [], ["run"]),
        ("exec'd Python (no init)", ["--entrypoint", py[0]], py[1:]),
        ("tini", ["--entrypoint", "/usr/bin/tini"], ["--"] + py),
        ("dumb-init", ["--entrypoint", "/usr/bin/dumb-init"], py),
        ("catatonit", ["--entrypoint", "/usr/bin/catatonit"], ["--"] + py),
        ("comfy-init supervise", ["--entrypoint", "/usr/local/bin/comfy-init"], ["supervise", "--"] + py),
    ]
    log(f"docker: stop, {runs} runs of {len(variants)} entrypoints (the exec'd Python takes ~10 s each)")
    stops = {n: Sample() for n, _, _ in variants}
    starts = {n: Sample() for n, _, _ in variants}
    codes = {n: [] for n, _, _ in variants}
    for rep in range(runs):
        for name, opts, args in variants:
            cname = f"comfy-init-bench-{os.getpid()}-{rep}-{len(CONTAINERS)}"
            CONTAINERS.append(cname)
            t0 = time.monotonic()
            run(["docker", "run", "-d", "--name", cname, "-p", "127.0.0.1::8188"] + opts + [tag] + args)
            port = int(run(["docker", "port", cname, "8188/tcp"]).split()[0].rsplit(":", 1)[1])
            try:
                t1 = wait_authenticated(port, None, 120, token)
            except BenchError:
                raise BenchError(f"{name}: container never answered:\n" + run(["docker", "logs", cname],
                                                                               check=False))
            starts[name].add(t1 - t0)
            t2 = time.monotonic()
            run(["docker", "stop", cname])
            stops[name].add(time.monotonic() - t2)
            codes[name].append(int(run(["docker", "inspect", "-f", "{{.State.ExitCode}}", cname]).strip()))
            run(["docker", "rm", cname])
            CONTAINERS.remove(cname)
    return {"image": tag, "stops": stops, "starts": starts, "codes": codes, "order": [n for n, _, _ in variants]}


def image(kit, base_image):
    """The bench image, built once per content (tag = hash of its inputs)."""
    ctx = os.path.join(OUT, "docker-context")
    rm_tree(ctx)
    os.makedirs(ctx)
    shutil.copy2(kit.bin, os.path.join(ctx, "comfy-init"))
    shutil.copy2(kit.gateway, os.path.join(ctx, "comfy-gateway"))
    shutil.copy2(os.path.join(HERE, "Dockerfile"), os.path.join(ctx, "Dockerfile"))
    shutil.copytree(kit.repos, os.path.join(ctx, "repos"), symlinks=True)
    os.makedirs(os.path.join(ctx, "wheels"))
    for w in os.listdir(WHEELS):
        if w.endswith(".whl") and not w.startswith("uv-"):
            shutil.copy2(os.path.join(WHEELS, w), os.path.join(ctx, "wheels", w))
    h = hashlib.sha256()
    for name in ("comfy-init", "comfy-gateway", "Dockerfile") + tuple(
            "wheels/" + w for w in sorted(os.listdir(ctx + "/wheels"))):
        with open(os.path.join(ctx, name), "rb") as fh:
            h.update(name.encode() + b"\0" + fh.read())
    for repo in sorted(os.listdir(kit.repos)):  # commit ids: the fixture's content, fixed dates
        h.update(run(["git", "-C", os.path.join(kit.repos, repo), "rev-parse", "HEAD"]).encode())
    h.update(base_image.encode())
    tag = "comfy-init-bench:" + h.hexdigest()[:12]
    if subprocess.run(["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        log(f"docker: image {tag} is cached")
        return tag
    log(f"docker: building {tag} (once; apt-get installs python3, tini, dumb-init, catatonit)")
    env = dict(os.environ)
    if subprocess.run(["docker", "buildx", "version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        env["DOCKER_BUILDKIT"] = "0"
    run(["docker", "build", "-q", "--build-arg", "BASE_IMAGE=" + base_image, "-t", tag, ctx], env=env,
        timeout=1200)
    return tag
