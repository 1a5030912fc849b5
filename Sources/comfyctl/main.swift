// comfyctl: the host tool for a comfy-init ComfyUI stack. Everything lives in ComfyCtlKit.
import ComfyCtlKit

#if canImport(Glibc)
  import Glibc
#endif

exit(ComfyCtlCommand.run())
