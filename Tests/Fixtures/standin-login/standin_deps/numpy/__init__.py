__version__ = "0.0+standin"  # stand-in for numpy: ComfyUI-Login only imports it
