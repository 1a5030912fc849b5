// libxcrypt: bcrypt ($2b$) hashing for the ComfyUI-Login PASSWORD file.
#include <crypt.h>
