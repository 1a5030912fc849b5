# Test hook (on PYTHONPATH): records every Python process comfy-init starts, pip included.
# With COMFY_TEST_SLOW_PIP=S, `pip install` sleeps S seconds first, so a test can kill
# comfy-init in the middle of the venv phase.
import os, sys, time

calls = os.environ.get("COMFY_TEST_CALLS")
if calls:
    with open(calls, "a") as f:
        f.write("python " + " ".join(sys.argv) + "\n")
    if "install" in sys.argv and os.environ.get("COMFY_TEST_SLOW_PIP"):
        time.sleep(float(os.environ["COMFY_TEST_SLOW_PIP"]))
