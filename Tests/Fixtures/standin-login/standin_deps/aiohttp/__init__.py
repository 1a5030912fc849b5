# stand-in for aiohttp: ComfyUI-Login imports it and its `web` module
from types import ModuleType

web = ModuleType("aiohttp.web")
