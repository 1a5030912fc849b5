# STAND-IN for ComfyUI-Login's __init__.py, with the real import chain: the image node first
# (load_image_incognito: torch, PIL, numpy, pycryptodome's Crypto, ComfyUI's nodes and node_helpers),
# then the password module (aiohttp, aiohttp_session and its [secure] extra's cryptography, Jinja2,
# bcrypt). If any import fails (a requirement missing), ComfyUI logs it and starts WITHOUT authentication.
# The heavy requirements are tiny stand-ins in standin_deps/ (see README.md: why there); bcrypt is the real
# one, from the venv.
# Test knob STANDIN_LOGIN_BREAK (environment): "import" fails the import the way an old ComfyUI-Login fails
# on a newer ComfyUI; "noenforce" imports fine but guards nothing (a broken fork); "missing:NAME" makes the
# module NAME (any of the chain: torch, PIL, numpy, Crypto, aiohttp, aiohttp_session, cryptography, jinja2,
# bcrypt) absent, so the import fails deep in the chain with Python's own ModuleNotFoundError.
import os
import sys

_break = os.environ.get("STANDIN_LOGIN_BREAK", "")
if _break == "import":
    import server

    raise ImportError(f"cannot import name 'HTTPFound' from 'server' ({server.__file__})")

# Appended, not prepended: a real package in the venv wins over its stand-in.
_standin_deps = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standin_deps")
if _standin_deps not in sys.path:
    sys.path.append(_standin_deps)

if _break.startswith("missing:"):
    _missing = _break[len("missing:"):]

    class _MissingModule:
        """Finds nothing for the missing module and its submodules: the import system raises as for a module
        that is not installed (the finder raises first, with the same message, so no later finder finds it)."""

        @staticmethod
        def find_spec(fullname, path=None, target=None):
            if fullname == _missing or fullname.startswith(_missing + "."):
                raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
            return None

    for _name in [n for n in sys.modules if n == _missing or n.startswith(_missing + ".")]:
        del sys.modules[_name]
    sys.meta_path.insert(0, _MissingModule)

from .load_image_incognito import *  # noqa: E402,F401,F403

if _break != "noenforce":
    from .password import *  # noqa: E402,F401,F403

# For loading all custom js
WEB_DIRECTORY = "js"

NODE_CLASS_MAPPINGS = {
    "LoadImageIncognito": LoadImageIncognito,  # noqa: F405
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "LoadImageIncognito": "Upload Image Incognito",
}
