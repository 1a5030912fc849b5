#!/usr/bin/env python3
# A real third-party client through the gate: comfy-api-simplified (PyPI) sends HTTP Basic with every
# request and on the /ws upgrade (ws://USER:PASSWORD@host/ws), which ComfyUI-Login alone refuses.
#   comfy-api-simplified.py URL USER PASSWORD OUT_DIR
# Queues a model-free workflow, waits for it over /ws, fetches its images with /history and /view,
# writes them to OUT_DIR and prints one line per image, then "N image(s)".
import sys
from pathlib import Path

from comfy_api_simplified import ComfyApiWrapper, ComfyWorkflowWrapper

url, user, password, out = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
workflow = {
    "1": {"class_type": "EmptyImage", "_meta": {"title": "Empty"},
          "inputs": {"width": 64, "height": 64, "batch_size": 2, "color": 0x3366CC}},
    "2": {"class_type": "ImageInvert", "_meta": {"title": "Invert"}, "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "_meta": {"title": "Save Image"},
          "inputs": {"images": ["2", 0], "filename_prefix": "through_the_gate"}},
}
api = ComfyApiWrapper(url, user=user, password=password)
wf = ComfyWorkflowWrapper(workflow)
wf.set_node_param("Empty", "color", 0xCC6633)
images = api.queue_and_wait_images(wf, "Save Image")
out.mkdir(parents=True, exist_ok=True)
for name, data in images.items():
    (out / name).write_bytes(data)
    png = data.startswith(b"\x89PNG")
    print(f"{name}: {len(data)} bytes, png={png}")
print(f"{len(images)} image(s)")
