# STAND-IN for ComfyUI v0.8.0's main.py, for comfy-init's tests (not ComfyUI: its few nodes make solid-colour PNGs).
# What it keeps from the real one:
#   - the real command-line flags (comfy/cli_args.py): a bad or unknown flag is an argparse error, exit 2;
#   - startup order: parse args, paths, (heavy imports: STANDIN_IMPORT_DELAY), import every custom node,
#     "Import times for custom nodes:", THEN bind and log "To see the GUI go to: http://HOST:PORT";
#   - a missing requirement fails at import (here `six`, where the real one fails on torch);
#   - signals: no SIGTERM handler at all (default action: the process dies; as PID 1 it would be ignored);
#     SIGINT -> KeyboardInterrupt -> "Stopped server", cleanup, exit 0. A SIGINT before the server is up
#     is not caught, as in the real one (traceback, death by SIGINT).
# Test knobs (environment): STANDIN_IMPORT_DELAY=seconds (slow start before the bind),
#   STANDIN_CLEANUP_FILE=path (the SIGINT cleanup writes "clean" there),
#   STANDIN_NO_GPU=1 (without --cpu, crash like PyPI's CUDA torch on a host with no NVIDIA driver),
#   STANDIN_FLOOD=1 (once listening, write to stdout without pause, as a chatty server that keeps the pipe full),
#   STANDIN_SAY_FILE=path (once listening and once that file exists, write each string of its JSON list to
#   stdout, flushing each),
#   STANDIN_SWALLOW_FIRST_SIGINT=1 (the first SIGINT is lost, as when the real server's KeyboardInterrupt
#   lands in a weakref callback and Python prints "Exception ignored in ..."; the second one stops it).
import comfy.options
comfy.options.enable_args_parsing()

import itertools  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import folder_paths  # noqa: E402  (parses the command line: exit 2 on a bad flag)
from comfy.cli_args import args  # noqa: E402
from app.logger import setup_logger  # noqa: E402
import utils.extra_config  # noqa: E402

# As the real one: stdout and stderr become ComfyUI's log interceptors (app/logger.py says how they buffer).
setup_logger(log_level=args.verbose, use_stdout=args.log_stdout)


def apply_custom_paths():
    extra_model_paths_config_path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "extra_model_paths.yaml")
    if os.path.isfile(extra_model_paths_config_path):
        utils.extra_config.load_extra_path_config(extra_model_paths_config_path)

    if args.extra_model_paths_config:
        for config_path in itertools.chain(*args.extra_model_paths_config):
            utils.extra_config.load_extra_path_config(config_path)  # a missing file raises, as in the real one

    if args.output_directory:
        output_dir = os.path.abspath(args.output_directory)
        logging.info(f"Setting output directory to: {output_dir}")
        folder_paths.set_output_directory(output_dir)

    for name in ("checkpoints", "clip", "vae", "diffusion_models", "loras"):
        folder_paths.add_model_folder_path(name, os.path.join(folder_paths.get_output_directory(), name))

    if args.input_directory:
        input_dir = os.path.abspath(args.input_directory)
        logging.info(f"Setting input directory to: {input_dir}")
        folder_paths.set_input_directory(input_dir)

    if args.user_directory:
        user_dir = os.path.abspath(args.user_directory)
        logging.info(f"Setting user directory to: {user_dir}")
        folder_paths.set_user_directory(user_dir)


apply_custom_paths()

# Where the real main.py imports torch and the rest of its requirements: a broken venv fails here.
import six  # noqa: E402,F401

# torch, imported there, asks tempfile for a writable temporary folder (torch/_inductor's cache
# folder) and its import fails without one: a read-only root with no /tmp mount and no TMPDIR.
import tempfile  # noqa: E402

tempfile.gettempdir()

_delay = float(os.environ.get("STANDIN_IMPORT_DELAY", "0") or 0)
if _delay > 0:
    # Said first, so a test knows the interpreter is up and inside the window (not still in its own start-up).
    print(f"standin: importing for {_delay:g} s (STANDIN_IMPORT_DELAY)", flush=True)
    time.sleep(_delay)  # imitates the seconds torch and friends take to import

if os.environ.get("STANDIN_NO_GPU") == "1" and not args.cpu:
    raise RuntimeError("Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
                       "installed a driver from http://www.nvidia.com/Download/index.aspx")

import nodes  # noqa: E402
import server  # noqa: E402
import comfyui_version  # noqa: E402


def cleanup_temp():
    temp_dir = folder_paths.get_temp_directory()
    if os.path.exists(temp_dir):
        shutil.rmtree(temp_dir, ignore_errors=True)


def standin_cleanup():
    path = os.environ.get("STANDIN_CLEANUP_FILE")
    if path:
        with open(path, "w") as f:
            f.write("clean")


def standin_say(path):
    """Once `path` appears (the test writes it when it is ready to read), writes each string of the JSON list
    there to sys.stdout (the interceptor) and flushes it, as a custom node's print(..., flush=True) or a
    progress bar does; a short pause between pieces makes each its own write, so a line split across
    pieces reaches comfy-init's relay in parts."""
    import json

    while not os.path.exists(path):
        time.sleep(0.02)
    with open(path, encoding="utf-8") as f:
        pieces = json.load(f)
    for i, piece in enumerate(pieces):
        if i:
            time.sleep(0.05)
        sys.stdout.write(piece)
        sys.stdout.flush()


def start_comfyui():
    if args.temp_directory:
        temp_dir = os.path.join(os.path.abspath(args.temp_directory), "temp")
        logging.info(f"Setting temp directory to: {temp_dir}")
        folder_paths.set_temp_directory(temp_dir)
    cleanup_temp()

    if args.cpu:
        logging.info("Set vram state to: DISABLED")
    logging.info("Device: cpu")

    prompt_server = server.PromptServer()
    nodes.init_extra_nodes(init_custom_nodes=(not args.disable_all_custom_nodes) or len(args.whitelist_custom_nodes) > 0)
    prompt_server.add_routes()

    if args.quick_test_for_ci:
        exit(0)

    import execution
    import threading

    # as the real main.py: one worker thread runs the queued prompts, in order
    threading.Thread(target=execution.prompt_worker, daemon=True,
                     args=(prompt_server.prompt_queue, prompt_server)).start()
    os.makedirs(folder_paths.get_temp_directory(), exist_ok=True)
    return prompt_server


if __name__ == "__main__":
    logging.info("Python version: {}".format(sys.version))
    logging.info("ComfyUI version: {}".format(comfyui_version.__version__))

    prompt_server = start_comfyui()
    if os.environ.get("STANDIN_SWALLOW_FIRST_SIGINT") == "1":
        import signal

        def _swallow(signum, frame):
            logging.info("Exception ignored in: <weakref callback>  KeyboardInterrupt (stand-in)")
            signal.signal(signal.SIGINT, signal.default_int_handler)

        signal.signal(signal.SIGINT, _swallow)
    try:
        addresses = [(addr, args.port) for addr in args.listen.split(",")]
        prompt_server.start_multi_address(addresses, verbose=not args.dont_print_server)
        if os.environ.get("STANDIN_SAY_FILE"):
            import threading

            threading.Thread(target=standin_say, args=(os.environ["STANDIN_SAY_FILE"],), daemon=True).start()
        if os.environ.get("STANDIN_FLOOD") == "1":
            import threading

            def _flood():
                line = b"x" * 65535 + b"\n"
                while True:
                    os.write(1, line)  # releases the GIL: the writers together refill the pipe at once

            import fcntl

            # A 1 MiB pipe that four writers refill: a reader that reads until EAGAIN never gets there.
            fcntl.fcntl(1, 1031, 1 << 20)  # F_SETPIPE_SZ
            for _ in range(4):
                threading.Thread(target=_flood, daemon=True).start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        logging.info("\nStopped server")
        prompt_server.close()

    cleanup_temp()
    standin_cleanup()
