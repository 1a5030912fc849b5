// zlib's inflate, for comfyctl's check of a generated PNG's pixels (zlib1g-dev; libz.a for a static build).
#include <zlib.h>
