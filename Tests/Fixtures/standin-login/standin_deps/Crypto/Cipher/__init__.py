AES = object()  # stand-in for pycryptodome: the name ComfyUI-Login imports
