"""Paths and constants that every part of scripts/bench shares, its error and its log."""
import os
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "scripts", "bench.d")
OUT = os.path.join(ROOT, "bench-out")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
WHEELS = os.path.join(ROOT, ".cache", "wheels")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's python3, never a pyenv shim
PYTHON = "/usr/bin/python3"
PASSWORD = "bench-password"


class BenchError(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)
