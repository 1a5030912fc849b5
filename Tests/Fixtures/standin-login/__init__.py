# STAND-IN for ComfyUI-Login's __init__.py. The real one imports its image node first and then the password
# module; if any import fails (a requirement missing), ComfyUI logs it and starts WITHOUT authentication.
# Test knob STANDIN_LOGIN_BREAK (environment): "import" fails the import the way an old ComfyUI-Login fails
# on a newer ComfyUI; "noenforce" imports fine but guards nothing (a broken fork).
import os

if os.environ.get("STANDIN_LOGIN_BREAK") == "import":
    import server

    raise ImportError(f"cannot import name 'HTTPFound' from 'server' ({server.__file__})")
if os.environ.get("STANDIN_LOGIN_BREAK") != "noenforce":
    from .password import *  # noqa: F401,F403

WEB_DIRECTORY = "js"

NODE_CLASS_MAPPINGS = {}

NODE_DISPLAY_NAME_MAPPINGS = {}
