# stand-in for Pillow: the four modules ComfyUI-Login imports, empty
from types import ModuleType

Image = ModuleType("PIL.Image")
ImageOps = ModuleType("PIL.ImageOps")
ImageSequence = ModuleType("PIL.ImageSequence")
ImageFile = ModuleType("PIL.ImageFile")
