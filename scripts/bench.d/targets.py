"""What is measured against: a ComfyUI to run (Target), the ways to start it (Entrypoint: straight,
comfy_init, baseline), and the homes they run in."""
import os
import signal
import time

from common import HERE, OUT, PASSWORD, SYSTEM_PATH, WHEELS
from procs import base_env, free_port, kill_tree, rm_tree, start, stop, wait_authenticated, wait_http

BASELINE = os.path.join(HERE, "baseline-entrypoint.sh")


class Target:
    """A ComfyUI to run: the stand-in or the real one, its sources and wheels."""

    def __init__(self, key, title, comfy_repo, comfy_ref, login_repo, login_ref, wheels, start_timeout, settle=0.0):
        self.key, self.title = key, title
        self.settle = settle  # seconds between the first answer and the stop signal
        self.comfy_repo, self.comfy_ref = comfy_repo, comfy_ref
        self.login_repo, self.login_ref = login_repo, login_ref
        self.wheels = wheels
        self.start_timeout = start_timeout
        self.dir = os.path.join(OUT, key)
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)

    def home(self, name):
        return os.path.join(self.dir, "home-" + name)

    def logpath(self, name):
        return os.path.join(self.dir, "logs", name + ".log")

    def password_file(self):
        """The password as a secret file: the form the docs recommend, and the one whose restart skips bcrypt."""
        path = os.path.join(self.dir, "password")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(PASSWORD + "\n")
        return path

    def env(self, home, port, installer="pip", path=SYSTEM_PATH, **extra):
        env = base_env(path)
        env.update(
            COMFYUI_HOME=home, COMFYUI_REPO=self.comfy_repo, COMFYUI_REF=self.comfy_ref,
            COMFYUI_LOGIN_REPO=self.login_repo, COMFYUI_LISTEN="127.0.0.1", COMFYUI_PORT=str(port),
            # With auth on, ComfyUI listens here behind the gate: a free port, not the default 18188 that a
            # test or another run on this machine may hold.
            COMFYUI_INTERNAL_PORT=str(free_port()),
            COMFYUI_ARGS="--cpu", COMFYUI_INSTALLER=installer, COMFYUI_PASSWORD_FILE=self.password_file(),
            PIP_FIND_LINKS=self.wheels, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
        )
        if self.login_ref:
            env["COMFYUI_LOGIN_REF"] = self.login_ref
        env.update(extra)
        return env


class Entrypoint:
    """One way to start the server: (command, environment, cwd, stop signal) for a home and a port.
    home: where its login/PASSWORD (the bearer token) is, so that start_to_answer waits for an
    authenticated answer; None: any HTTP answer will do (a server with no gate in front)."""

    def __init__(self, name, make, stop_signal, home=None):
        self.name, self.make, self.stop_signal, self.home = name, make, stop_signal, home


def straight(target, home):
    def make(port):
        cmd = [os.path.join(home, "venv", "bin", "python"), "main.py", "--listen", "127.0.0.1", "--port", str(port),
               "--cpu"]
        env = base_env()
        env["PYTHONUNBUFFERED"] = "1"  # what comfy-init gives the server too
        return cmd, env, os.path.join(home, "ComfyUI")
    return Entrypoint("python main.py (straight)", make, signal.SIGINT, home)


def comfy_init(kit, target, home, **extra):
    return Entrypoint("comfy-init", lambda port: ([kit.bin, "run"], target.env(home, port, **extra), None),
                      signal.SIGTERM, home)


def baseline(target, home):
    # The baseline execs python, so it stops like python does.
    def make(port):
        env = target.env(home, port)
        env["COMFYUI_PASSWORD"] = PASSWORD  # the baseline reads the password from its environment
        del env["COMFYUI_PASSWORD_FILE"]
        return ["/bin/bash", BASELINE], env, None
    return Entrypoint("bash baseline", make, signal.SIGINT, home)


def standin(kit):
    """The stand-in ComfyUI of Tests/Fixtures, from the local repos that prepare() made."""
    return Target("standin", "stand-in ComfyUI", "file://" + kit.repos + "/comfyui.git-src", "v0.8.0-standin",
                  "file://" + kit.repos + "/login-src", "v1.0-standin", WHEELS, start_timeout=120)


def token_file(home):
    return os.path.join(home, "ComfyUI", "login", "PASSWORD")


def start_to_answer(target, ep, tag, first=None):
    """Starts ep, waits for its first authenticated answer (200 to `GET /system_stats` with the bearer
    token of its home; any HTTP answer where ep has no home): (seconds, running process, port).
    first: a dict that gets "any", the seconds to the first answer of any status (the gate's 503)."""
    port = free_port()
    cmd, env, cwd = ep.make(port)
    log_path = target.logpath(tag)
    with open(log_path, "ab") as f:
        f.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
    seen = {}
    t0 = time.monotonic()
    proc = start(cmd, env, log_path, cwd)
    try:
        if ep.home:
            t1 = wait_authenticated(port, proc, target.start_timeout, token_file(ep.home), seen)
        else:
            t1 = wait_http(port, proc, target.start_timeout)
    except BaseException:
        kill_tree(proc)
        raise
    if first is not None:
        first["any"] = seen.get("any", t1) - t0
    return t1 - t0, proc, port


def make_home(target, name, ep_factory):
    """A fresh home, installed by a first start of the entrypoint: (home, seconds to first answer)."""
    home = target.home(name)
    rm_tree(home)
    seconds, proc, _ = start_to_answer(target, ep_factory(home), f"{name}-first-start")
    stop(proc, ep_factory(home).stop_signal, target.settle)
    return home, seconds


def share_venv(ci_home, bl_home):
    """The baseline's home keeps its own checkout and login/PASSWORD but uses comfy-init's venv from here
    on. With a venv each, whichever entrypoint ran right after the baseline paid for page-cache misses
    on its own venv (measured on the real ComfyUI: 0.5 to 1 s), which is not what is being compared.
    Its pip runs find everything installed either way."""
    venv = os.path.join(bl_home, "venv")
    if os.path.islink(venv):
        return
    rm_tree(venv)
    os.symlink(os.path.join(ci_home, "venv"), venv)


def read_token(home):
    with open(token_file(home)) as f:
        return f.readline().rstrip("\r\n")
