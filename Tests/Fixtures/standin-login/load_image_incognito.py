# STAND-IN for ComfyUI-Login's load_image_incognito.py: the same imports in the same order (the heavy ones
# are the stand-ins in standin_deps/), and a node class on ComfyUI's LoadImage; it decrypts nothing.
import torch  # noqa: F401
import folder_paths  # noqa: F401
import os  # noqa: F401
import node_helpers  # noqa: F401
from PIL import Image, ImageOps, ImageSequence, ImageFile  # noqa: F401
import numpy as np  # noqa: F401
import logging  # noqa: F401
import io  # noqa: F401
from Crypto.Cipher import AES  # noqa: F401
from Crypto.Util.Padding import unpad  # noqa: F401
from nodes import LoadImage


class LoadImageIncognito(LoadImage):
    CATEGORY = "image"
