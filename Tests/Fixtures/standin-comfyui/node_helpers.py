# Stand-in for ComfyUI's node_helpers.py: ComfyUI-Login's image node imports it (nothing is used at import).
def pillow(fn, arg):
    return fn(arg)
