#include "cgateway.h"

#include <sys/prctl.h>

int cgateway_set_nondumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

int cgateway_set_parent_death_signal(int signal) { return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0); }

#include <sys/random.h>

long cgateway_random(void *buffer, unsigned long length) { return getrandom(buffer, length, 0); }
