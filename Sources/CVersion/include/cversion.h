#ifndef CVERSION_H
#define CVERSION_H

/// The git commit the binary was built from ("abc1234", "abc1234-dirty"), or "unknown".
const char *comfy_init_commit(void);

/// The URL of the repository it was built from (the checkout's origin, when an https URL), or "".
const char *comfy_init_source(void);

#endif
