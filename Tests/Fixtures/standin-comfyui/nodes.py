# Stand-in for the custom-node loading part of ComfyUI's nodes.py, with the real rules:
# every entry of each custom_nodes folder is tried, except __pycache__, files that are not .py and names
# ending in ".disabled"; a package is loaded from its __init__.py; a node that raises on import (or has no
# NODE_CLASS_MAPPINGS) is logged and skipped, and the server starts without it.
import importlib.util
import logging
import os
import sys
import time
import traceback

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
