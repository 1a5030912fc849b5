// comfy-init: see `comfy-init --help` and docs/architecture.md.
import ComfyInitKit

#if canImport(Glibc)
  import Glibc
#endif

exit(CLI.main())
