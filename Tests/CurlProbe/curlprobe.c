#include "curlprobe.h"

#include <curl/curl.h>
#include <stdatomic.h>

static atomic_int calls;

// The linker points every reference to curl_global_init here, and __real_ at libcurl's own.
CURLcode __real_curl_global_init(long flags);
CURLcode __wrap_curl_global_init(long flags);

CURLcode __wrap_curl_global_init(long flags) {
  atomic_fetch_add(&calls, 1);
  return __real_curl_global_init(flags);
}

int curlprobe_global_init_calls(void) { return atomic_load(&calls); }
