# Stand-in for ComfyUI's utils/extra_config.py: loads an extra_model_paths.yaml and adds its folders
# (custom_nodes included) to folder_paths. The real one uses PyYAML; this one reads the subset that
# extra_model_paths.yaml files use (nested "key: value" maps, "key: |" blocks, comments) with the stdlib.
import logging
import os

import folder_paths


def _scalar(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    low = value.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~"):
        return None
    return value


def _strip_comment(value):
    if value.lstrip().startswith("#"):
        return ""
    pos = value.find(" #")
    return value[:pos] if pos >= 0 else value


def parse_yaml_subset(text):
    root = {}
    stack = [(-1, root)]
    opened = []  # maps opened by "key:" with nothing after the colon
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i].rstrip("\r")
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        key, sep, value = stripped.partition(":")
        if not sep:
            raise ValueError(f"line {i}: expected 'key: value', got {stripped!r}")
        key = _scalar(key.strip())
        value = _strip_comment(value).strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value in ("|", "|-", "|+", ">", ">-"):
            block = []
            while i < len(lines):
                nxt = lines[i].rstrip("\r")
                if nxt.strip() and len(nxt) - len(nxt.lstrip(" ")) <= indent:
                    break
                block.append(nxt.strip())
                i += 1
            joiner = " " if value.startswith(">") else "\n"
            parent[key] = joiner.join(block).strip("\n") + ("" if value.endswith("-") else "\n")
        elif value == "":
            child = {}
            parent[key] = child
            opened.append((parent, key))
            stack.append((indent, child))
        else:
            parent[key] = _scalar(value)
    for parent, key in opened:
        if parent[key] == {}:
            parent[key] = None
    return root


def load_extra_path_config(yaml_path):
    with open(yaml_path, "r", encoding="utf-8") as stream:
        config = parse_yaml_subset(stream.read())
    yaml_dir = os.path.dirname(os.path.abspath(yaml_path))
    for c in config:
        conf = config[c]
        if conf is None:
            continue
        base_path = None
        if "base_path" in conf:
            base_path = os.path.expandvars(os.path.expanduser(conf.pop("base_path")))
            if not os.path.isabs(base_path):
                base_path = os.path.abspath(os.path.join(yaml_dir, base_path))
        is_default = bool(conf.pop("is_default", False))
        for x in conf:
            for y in conf[x].split("\n"):
                if len(y) == 0:
                    continue
                full_path = y
                if base_path:
                    full_path = os.path.join(base_path, full_path)
                elif not os.path.isabs(full_path):
                    full_path = os.path.abspath(os.path.join(yaml_dir, y))
                normalized_path = os.path.normpath(full_path)
                logging.info("Adding extra search path {} {}".format(x, normalized_path))
                folder_paths.add_model_folder_path(x, normalized_path, is_default)
