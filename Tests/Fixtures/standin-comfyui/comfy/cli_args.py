# Stand-in for ComfyUI v0.8.0's comfy/cli_args.py: the same flags (names, nargs, consts, defaults,
# mutually exclusive groups), so that a command line the real server accepts is accepted here and
# one it rejects (unknown flag, bad value, --user-directory that does not exist) fails with exit 2.
# Only a few flags change anything in the stand-in; the others are parsed and ignored.
import argparse
import enum
import os

import comfy.options


class EnumAction(argparse.Action):
    def __init__(self, **kwargs):
        enum_type = kwargs.pop("type", None)
        choices = tuple(e.value for e in enum_type)
        kwargs.setdefault("choices", choices)
        kwargs.setdefault("metavar", f"[{','.join(list(choices))}]")
        super().__init__(**kwargs)
        self._enum = enum_type

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, self._enum(values))


class LatentPreviewMethod(enum.Enum):
    NoPreviews = "none"
    Auto = "auto"
    Latent2RGB = "latent2rgb"
    TAESD = "taesd"


class PerformanceFeature(enum.Enum):
    Fp16Accumulation = "fp16_accumulation"
    Fp8MatrixMultiplication = "fp8_matrix_mult"
    CublasOps = "cublas_ops"
    AutoTune = "autotune"


def is_valid_directory(path: str) -> str:
    if not os.path.exists(path):
        raise argparse.ArgumentTypeError(f"The path '{path}' does not exist.")
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"'{path}' is not a directory.")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"You do not have read permissions for '{path}'.")
    return path


parser = argparse.ArgumentParser()
add = parser.add_argument

# the flags that matter to the stand-in
add("--listen", type=str, default="127.0.0.1", metavar="IP", nargs="?", const="0.0.0.0,::",
    help="IP address(es) to listen on, comma separated (default 127.0.0.1; bare --listen means 0.0.0.0,::)")
add("--port", type=int, default=8188, help="listen port")
add("--enable-cors-header", type=str, default=None, metavar="ORIGIN", nargs="?", const="*",
    help="enable CORS with this origin (bare: '*')")
add("--base-directory", type=str, default=None, help="base for models, custom_nodes, input, output, temp, user")
add("--extra-model-paths-config", type=str, default=None, metavar="PATH", nargs="+", action="append")
add("--output-directory", type=str, default=None)
add("--temp-directory", type=str, default=None)
add("--input-directory", type=str, default=None)
add("--user-directory", type=is_valid_directory, default=None)
add("--auto-launch", action="store_true")
add("--disable-auto-launch", action="store_true")
add("--disable-all-custom-nodes", action="store_true")
add("--whitelist-custom-nodes", type=str, nargs="+", default=[])
add("--dont-print-server", action="store_true")
add("--quick-test-for-ci", action="store_true")
add("--verbose", default="INFO", const="DEBUG", nargs="?", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
add("--log-stdout", action="store_true")

# accepted like the real server, no effect here
add("--tls-keyfile", type=str)
add("--tls-certfile", type=str)
add("--max-upload-size", type=float, default=100)
add("--cuda-device", type=int, default=None, metavar="DEVICE_ID")
add("--default-device", type=int, default=None, metavar="DEFAULT_DEVICE_ID")
g = parser.add_mutually_exclusive_group()
g.add_argument("--cuda-malloc", action="store_true")
g.add_argument("--disable-cuda-malloc", action="store_true")
g = parser.add_mutually_exclusive_group()
g.add_argument("--force-fp32", action="store_true")
g.add_argument("--force-fp16", action="store_true")
g = parser.add_mutually_exclusive_group()
for f in ("--fp32-unet", "--fp64-unet", "--bf16-unet", "--fp16-unet", "--fp8_e4m3fn-unet", "--fp8_e5m2-unet",
          "--fp8_e8m0fnu-unet"):
    g.add_argument(f, action="store_true")
g = parser.add_mutually_exclusive_group()
for f in ("--fp16-vae", "--fp32-vae", "--bf16-vae"):
    g.add_argument(f, action="store_true")
add("--cpu-vae", action="store_true")
g = parser.add_mutually_exclusive_group()
for f in ("--fp8_e4m3fn-text-enc", "--fp8_e5m2-text-enc", "--fp16-text-enc", "--fp32-text-enc", "--bf16-text-enc"):
    g.add_argument(f, action="store_true")
add("--force-channels-last", action="store_true")
add("--directml", type=int, nargs="?", metavar="DIRECTML_DEVICE", const=-1)
add("--oneapi-device-selector", type=str, default=None, metavar="SELECTOR_STRING")
add("--disable-ipex-optimize", action="store_true")
add("--supports-fp8-compute", action="store_true")
add("--preview-method", type=LatentPreviewMethod, default=LatentPreviewMethod.NoPreviews, action=EnumAction)
add("--preview-size", type=int, default=512)
g = parser.add_mutually_exclusive_group()
g.add_argument("--cache-classic", action="store_true")
g.add_argument("--cache-lru", type=int, default=0)
g.add_argument("--cache-none", action="store_true")
g.add_argument("--cache-ram", nargs="?", const=4.0, type=float, default=0)
g = parser.add_mutually_exclusive_group()
for f in ("--use-split-cross-attention", "--use-quad-cross-attention", "--use-pytorch-cross-attention",
          "--use-sage-attention", "--use-flash-attention"):
    g.add_argument(f, action="store_true")
add("--disable-xformers", action="store_true")
g = parser.add_mutually_exclusive_group()
g.add_argument("--force-upcast-attention", action="store_true")
g.add_argument("--dont-upcast-attention", action="store_true")
add("--enable-manager", action="store_true")
g = parser.add_mutually_exclusive_group()
g.add_argument("--disable-manager-ui", action="store_true")
g.add_argument("--enable-manager-legacy-ui", action="store_true")
g = parser.add_mutually_exclusive_group()
for f in ("--gpu-only", "--highvram", "--normalvram", "--lowvram", "--novram", "--cpu"):
    g.add_argument(f, action="store_true")
add("--reserve-vram", type=float, default=None)
add("--async-offload", nargs="?", const=2, type=int, default=None, metavar="NUM_STREAMS")
add("--disable-async-offload", action="store_true")
add("--force-non-blocking", action="store_true")
add("--default-hashing-function", type=str, choices=["md5", "sha1", "sha256", "sha512"], default="sha256")
add("--disable-smart-memory", action="store_true")
add("--deterministic", action="store_true")
add("--fast", nargs="*", type=PerformanceFeature)
add("--disable-pinned-memory", action="store_true")
add("--mmap-torch-files", action="store_true")
add("--disable-mmap", action="store_true")
add("--windows-standalone-build", action="store_true")
add("--disable-metadata", action="store_true")
add("--disable-api-nodes", action="store_true")
add("--multi-user", action="store_true")
add("--front-end-version", type=str, default="comfyanonymous/ComfyUI@latest")
add("--front-end-root", type=is_valid_directory, default=None)
add("--enable-compress-response-body", action="store_true")
add("--comfy-api-base", type=str, default="https://api.comfy.org")
add("--database-url", type=str,
    default="sqlite:///" + os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "user", "comfyui.db")))

if comfy.options.args_parsing:
    args = parser.parse_args()
else:
    args = parser.parse_args([])

if args.windows_standalone_build:
    args.auto_launch = True
if args.disable_auto_launch:
    args.auto_launch = False
