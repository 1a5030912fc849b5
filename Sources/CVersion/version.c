// The commit id (and the source URL) are the build facts Swift cannot read at compile time: scripts/build writes it into
// .build/version/comfy_init_commit.h and puts that folder on the include path (a header rather than a
// -D flag, so a new commit recompiles this file alone, not every target). A plain `swift build` has no
// such header and says "unknown".
#include "cversion.h"

#if __has_include("comfy_init_commit.h")
#include "comfy_init_commit.h"
#endif

#ifndef COMFY_INIT_COMMIT
#define COMFY_INIT_COMMIT "unknown"
#endif

#ifndef COMFY_INIT_SOURCE
#define COMFY_INIT_SOURCE ""
#endif

const char *comfy_init_commit(void) { return COMFY_INIT_COMMIT; }

const char *comfy_init_source(void) { return COMFY_INIT_SOURCE; }
