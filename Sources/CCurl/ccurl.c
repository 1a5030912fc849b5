// Everything lives in include/ccurl.h; SwiftPM wants one source file per C target.
#include "ccurl.h"
