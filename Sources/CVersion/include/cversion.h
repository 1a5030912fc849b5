#ifndef CVERSION_H
#define CVERSION_H

/// The git commit the binary was built from ("abc1234", "abc1234-dirty"), or "unknown".
const char *comfy_init_commit(void);

#endif
