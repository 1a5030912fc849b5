__version__ = "0.0+standin"  # stand-in for torch: ComfyUI-Login only imports it
