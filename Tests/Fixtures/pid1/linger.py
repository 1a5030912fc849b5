#!/usr/bin/env python3
"""PID-1 scenario child: exits 3 while other processes it started linger.

usage: linger.py SECONDS
Starts two `sleep SECONDS`: one in this process group, one in a session of its own (out of reach
of the group's signals). Both keep stdout and stderr open. Exits at once, without waiting.
"""
import os
import subprocess
import sys

subprocess.Popen(["sleep", sys.argv[1]])
subprocess.Popen(["sleep", sys.argv[1]], start_new_session=True)
os._exit(3)
