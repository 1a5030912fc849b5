# Stand-in for the custom-node loading part of ComfyUI's nodes.py, with the real rules:
# every entry of each custom_nodes folder is tried, except __pycache__, files that are not .py and names
# ending in ".disabled"; a package is loaded from its __init__.py; a node that raises on import (or has no
# NODE_CLASS_MAPPINGS) is logged and skipped, and the server starts without it.
import importlib.util
import logging
import os
import struct
import sys
import threading
import time
import traceback
import zlib

import folder_paths
from comfy.cli_args import args

NODE_CLASS_MAPPINGS = {}
NODE_DISPLAY_NAME_MAPPINGS = {}
LOADED_MODULE_DIRS = {}
EXTENSION_WEB_DIRS = {}


class LoadImage:
    """The built-in node ComfyUI-Login's LoadImageIncognito subclasses (`from nodes import LoadImage`)."""

    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"image": ([], {"image_upload": True})}}


NODE_CLASS_MAPPINGS["LoadImage"] = LoadImage


# ---------------------------------------------------------------- core nodes that run (stand-in images)
# An IMAGE here is a list (the batch) of (width, height, (r, g, b)) solid colours, channels as float32 in
# 0..1, the arithmetic of the real nodes (torch float32) so the saved bytes match the real server's.
MAX_RESOLUTION = 16384
_interrupted = threading.Event()
current_context = {}


def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def interrupt_processing(value=True):
    if value:
        _interrupted.set()
    else:
        _interrupted.clear()


def is_interrupted():
    return _interrupted.is_set()


def report_progress(value, total):
    """main.py's progress hook (what a sampler's ProgressBar calls): interrupt check, then `progress`."""
    import execution
    import server

    if is_interrupted():
        raise execution.InterruptProcessingException()
    inst = server.PromptServer.instance
    inst.send_sync("progress", {"value": value, "max": total, "prompt_id": current_context.get("prompt_id"),
                                "node": current_context.get("node_id")}, inst.client_id)


def _png(width, height, rgb, text_chunks):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    for key, value in text_chunks:
        out += chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1", "replace"))
    return out + chunk(b"IDAT", zlib.compress(row * height, 4)) + chunk(b"IEND", b"")


class EmptyImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"width": ("INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}),
                             "height": ("INT", {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
                             "color": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1,
                                               "display": "color"})}}

    def generate(self, width, height, batch_size=1, color=0):
        rgb = tuple(_f32(((color >> shift) & 0xFF) / 0xFF) for shift in (16, 8, 0))
        return ([(width, height, rgb)] * batch_size,)


class ImageInvert:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "invert"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"image": ("IMAGE",)}}

    def invert(self, image):
        return ([(w, h, tuple(_f32(1.0 - c) for c in rgb)) for w, h, rgb in image],)


class SaveImage:
    CATEGORY = "image"
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True

    def __init__(self):
        self.output_dir = folder_paths.get_output_directory()
        self.type = "output"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"images": ("IMAGE", {"tooltip": "The images to save."}),
                             "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix="ComfyUI"):
        import json

        output_dir = os.path.abspath(self.output_dir)
        subfolder = os.path.dirname(os.path.normpath(filename_prefix))
        filename = os.path.basename(os.path.normpath(filename_prefix))
        full_output_folder = os.path.join(output_dir, subfolder)
        common = os.path.commonpath((output_dir, os.path.abspath(full_output_folder)))
        if common != output_dir:
            raise Exception("**** ERROR: Saving image outside the output folder is not allowed."
                            "\n full_output_folder: " + os.path.abspath(full_output_folder) +
                            "\n         output_dir: " + output_dir + "\n         commonpath: " + common)
        os.makedirs(full_output_folder, exist_ok=True)
        counter = 1  # folder_paths.get_save_image_path: one past the highest PREFIX_NNNNN_ there
        for name in os.listdir(full_output_folder):
            head, digits = name[:len(filename) + 1], name[len(filename) + 1:].split("_")[0]
            if os.path.normcase(head[:-1]) == os.path.normcase(filename) and head[-1:] == "_" and digits.isdigit():
                counter = max(counter, int(digits) + 1)
        prompt = current_context.get("prompt")
        results = []
        for w, h, rgb in images:
            pixels = [min(255, max(0, int(_f32(255.0 * c)))) for c in rgb]
            file = f"{filename}_{counter:05}_.png"
            with open(os.path.join(full_output_folder, file), "wb") as f:
                f.write(_png(w, h, pixels, [("prompt", json.dumps(prompt))] if prompt is not None else []))
            results.append({"filename": file, "subfolder": subfolder, "type": self.type})
            counter += 1
        return {"ui": {"images": results}}


class CheckpointLoaderSimple:
    CATEGORY = "loaders"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"ckpt_name": (folder_paths.get_filename_list("checkpoints"),
                                           {"tooltip": "The name of the checkpoint (model) to load."})}}

    def load_checkpoint(self, ckpt_name):
        return ("standin-model", "standin-clip", "standin-vae")


class StandinSlowSteps:
    """STAND-IN ONLY: passes its image through after `steps` steps of `seconds_per_step`, sending `progress`
    for each step as a sampler's ProgressBar does and stopping at the next step after /interrupt."""

    CATEGORY = "standin"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"image": ("IMAGE",), "steps": ("INT", {"default": 5, "min": 1, "max": 10000}),
                             "seconds_per_step": ("FLOAT", {"default": 0.1, "min": 0.0, "max": 60.0})}}

    def run(self, image, steps, seconds_per_step):
        for step in range(1, steps + 1):
            if _interrupted.wait(seconds_per_step):
                import execution

                raise execution.InterruptProcessingException()
            report_progress(step, steps)
        return (image,)


class StandinRaise:
    """STAND-IN ONLY: raises `exception_type` (a builtin exception's name) with `message` when it runs,
    so a test gets the real `execution_error` event."""

    CATEGORY = "standin"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"image": ("IMAGE",), "exception_type": ("STRING", {"default": "RuntimeError"}),
                             "message": ("STRING", {"default": "stand-in failure"})}}

    def run(self, image, exception_type, message):
        import builtins

        cls = getattr(builtins, exception_type, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            cls = RuntimeError
        raise cls(message)


class StandinSink:
    """STAND-IN ONLY: an output node that takes any value (type "*") and shows nothing, so a graph can end
    at a loader (CheckpointLoaderSimple's "value not in list" needs a consumer of MODEL)."""

    CATEGORY = "standin"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(s):
        return {"required": {"value": ("*",)}}

    def run(self, value):
        return {"ui": {"text": [str(value)]}}


for _cls in (EmptyImage, ImageInvert, SaveImage, CheckpointLoaderSimple, StandinSlowSteps, StandinRaise, StandinSink):
    NODE_CLASS_MAPPINGS[_cls.__name__] = _cls


def get_module_name(module_path):
    base_path = os.path.basename(module_path)
    if os.path.isfile(module_path):
        base_path = os.path.splitext(base_path)[0]
    return base_path


def load_custom_node(module_path, ignore=set(), module_parent="custom_nodes"):
    module_name = get_module_name(module_path)
    if os.path.isfile(module_path):
        module_name = os.path.splitext(module_path)[0]
        sys_module_name = module_name
    else:
        sys_module_name = module_path.replace(".", "_x_")
    try:
        logging.debug("Trying to load custom node {}".format(module_path))
        if os.path.isfile(module_path):
            module_spec = importlib.util.spec_from_file_location(sys_module_name, module_path)
            module_dir = os.path.split(module_path)[0]
        else:
            module_spec = importlib.util.spec_from_file_location(sys_module_name,
                                                                 os.path.join(module_path, "__init__.py"))
            module_dir = module_path
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[sys_module_name] = module
        module_spec.loader.exec_module(module)
        LOADED_MODULE_DIRS[module_name] = os.path.abspath(module_dir)
        if getattr(module, "WEB_DIRECTORY", None) is not None:
            web_dir = os.path.abspath(os.path.join(module_dir, module.WEB_DIRECTORY))
            if os.path.isdir(web_dir):
                EXTENSION_WEB_DIRS[module_name] = web_dir
        if getattr(module, "NODE_CLASS_MAPPINGS", None) is not None:
            for name, node_cls in module.NODE_CLASS_MAPPINGS.items():
                if name not in ignore:
                    NODE_CLASS_MAPPINGS[name] = node_cls
            if getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) is not None:
                NODE_DISPLAY_NAME_MAPPINGS.update(module.NODE_DISPLAY_NAME_MAPPINGS)
            return True
        logging.warning(f"Skip {module_path} module for custom nodes due to the lack of NODE_CLASS_MAPPINGS "
                        "or NODES_LIST (need one).")
        return False
    except Exception as e:
        logging.warning(traceback.format_exc())
        logging.warning(f"Cannot import {module_path} module for custom nodes: {e}")
        return False


def init_external_custom_nodes():
    base_node_names = set(NODE_CLASS_MAPPINGS.keys())
    node_import_times = []
    for custom_node_path in folder_paths.get_folder_paths("custom_nodes"):
        # like the real server, a missing custom_nodes folder is an error (FileNotFoundError)
        possible_modules = os.listdir(os.path.realpath(custom_node_path))
        if "__pycache__" in possible_modules:
            possible_modules.remove("__pycache__")
        for possible_module in possible_modules:
            module_path = os.path.join(custom_node_path, possible_module)
            if os.path.isfile(module_path) and os.path.splitext(module_path)[1] != ".py":
                continue
            if module_path.endswith(".disabled"):
                continue
            if args.disable_all_custom_nodes and possible_module not in args.whitelist_custom_nodes:
                logging.info(f"Skipping {possible_module} due to disable_all_custom_nodes and whitelist_custom_nodes")
                continue
            time_before = time.perf_counter()
            success = load_custom_node(module_path, base_node_names, module_parent="custom_nodes")
            node_import_times.append((time.perf_counter() - time_before, module_path, success))

    if len(node_import_times) > 0:
        logging.info("\nImport times for custom nodes:")
        for n in sorted(node_import_times):
            import_message = "" if n[2] else " (IMPORT FAILED)"
            logging.info("{:6.1f} seconds{}: {}".format(n[0], import_message, n[1]))
        logging.info("")


def init_extra_nodes(init_custom_nodes=True):
    if init_custom_nodes:
        init_external_custom_nodes()
    else:
        logging.info("Skipping loading of custom nodes")
