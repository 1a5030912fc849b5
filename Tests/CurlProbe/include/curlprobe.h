// Tests only: counts the process's calls to curl_global_init. The test executable is linked with
// `--wrap=curl_global_init`, so every call the code under test makes lands in curlprobe.c first.
#ifndef CURLPROBE_H
#define CURLPROBE_H

/// How many times curl_global_init has been called in this process.
int curlprobe_global_init_calls(void);

#endif
