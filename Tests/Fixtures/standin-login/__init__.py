# STAND-IN for ComfyUI-Login's __init__.py. The real one imports its image node first and then the password
# module; if any import fails (a requirement missing), ComfyUI logs it and starts WITHOUT authentication.
from .password import *  # noqa: F401,F403

WEB_DIRECTORY = "js"

NODE_CLASS_MAPPINGS = {}

NODE_DISPLAY_NAME_MAPPINGS = {}
