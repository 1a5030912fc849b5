# Stand-in for ComfyUI's folder_paths.py: where models, custom nodes, input, output, temp and user data live.
# As in the real one, --base-directory moves all of them (custom_nodes included), while custom nodes that
# locate files from os.path.dirname(folder_paths.__file__) (ComfyUI-Login's login/PASSWORD) stay in the checkout.
import logging
import os

from comfy.cli_args import args

supported_pt_extensions = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}

folder_names_and_paths = {}

if args.base_directory:
    base_path = os.path.abspath(args.base_directory)
else:
    base_path = os.path.dirname(os.path.realpath(__file__))

models_dir = os.path.join(base_path, "models")
for _name, _dirs in (
    ("checkpoints", ["checkpoints"]),
    ("loras", ["loras"]),
    ("vae", ["vae"]),
    ("text_encoders", ["text_encoders", "clip"]),
    ("diffusion_models", ["unet", "diffusion_models"]),
    ("clip_vision", ["clip_vision"]),
    ("style_models", ["style_models"]),
    ("embeddings", ["embeddings"]),
    ("vae_approx", ["vae_approx"]),
    ("controlnet", ["controlnet", "t2i_adapter"]),
    ("gligen", ["gligen"]),
    ("upscale_models", ["upscale_models"]),
    ("hypernetworks", ["hypernetworks"]),
    ("photomaker", ["photomaker"]),
):
    folder_names_and_paths[_name] = ([os.path.join(models_dir, d) for d in _dirs], supported_pt_extensions)
folder_names_and_paths["configs"] = ([os.path.join(models_dir, "configs")], {".yaml"})
folder_names_and_paths["custom_nodes"] = ([os.path.join(base_path, "custom_nodes")], set())

output_directory = os.path.join(base_path, "output")
temp_directory = os.path.join(base_path, "temp")
input_directory = os.path.join(base_path, "input")
user_directory = os.path.join(base_path, "user")


def map_legacy(folder_name):
    return {"unet": "diffusion_models", "clip": "text_encoders"}.get(folder_name, folder_name)


if not os.path.exists(input_directory):
    try:
        os.makedirs(input_directory)
    except Exception:
        logging.error("Failed to create input directory")


def set_output_directory(d):
    global output_directory
    output_directory = d


def set_temp_directory(d):
    global temp_directory
    temp_directory = d


def set_input_directory(d):
    global input_directory
    input_directory = d


def set_user_directory(d):
    global user_directory
    user_directory = d


def get_output_directory():
    return output_directory


def get_temp_directory():
    return temp_directory


def get_input_directory():
    return input_directory


def get_user_directory():
    return user_directory


# As the real folder_paths.py (v0.8.0 :143, :177-202): "System Users" ("__" prefix) are never reachable over HTTP.
SYSTEM_USER_PREFIX = "__"


def get_public_user_directory(user_id):
    """<user directory>/<user_id>, or None for an empty id or a System User."""
    if not user_id or not isinstance(user_id, str):
        return None
    if user_id.startswith(SYSTEM_USER_PREFIX):
        return None
    return os.path.join(get_user_directory(), user_id)


def get_directory_by_type(type_name):
    # used by /internal/files: only these three
    return {"output": get_output_directory(), "temp": get_temp_directory(),
            "input": get_input_directory()}.get(type_name)


def add_model_folder_path(folder_name, full_folder_path, is_default=False):
    folder_name = map_legacy(folder_name)
    if folder_name in folder_names_and_paths:
        paths = folder_names_and_paths[folder_name][0]
        if full_folder_path in paths:
            if is_default and paths[0] != full_folder_path:
                paths.remove(full_folder_path)
                paths.insert(0, full_folder_path)
        elif is_default:
            paths.insert(0, full_folder_path)
        else:
            paths.append(full_folder_path)
    else:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())


def get_folder_paths(folder_name):
    return folder_names_and_paths[map_legacy(folder_name)][0][:]


def get_filename_list(folder_name):
    """Files (relative paths) under every folder registered for folder_name, filtered by extension."""
    folder_name = map_legacy(folder_name)
    dirs, extensions = folder_names_and_paths[folder_name]
    out = set()
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for root, subdirs, files in os.walk(d, followlinks=True):
            subdirs[:] = [s for s in subdirs if s != ".git"]
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), d)
                if len(extensions) == 0 or os.path.splitext(f)[1].lower() in extensions:
                    out.add(rel)
    return sorted(out)
