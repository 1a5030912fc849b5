// The gate's only C: prctl is variadic, which Swift cannot call.
#pragma once

/// Marks the process non-dumpable: a process of the same uid (the server's code, when both run as one
/// user) can then neither ptrace it nor read its memory, which holds the token and the session key.
int cgateway_set_nondumpable(void);

/// Asks the kernel for `signal` when the parent (comfy-init) dies. Set after the privilege drop: a
/// change of credentials clears it.
int cgateway_set_parent_death_signal(int signal);

/// Fills `buffer` from the kernel's random source; returns bytes written or -1 (errno set).
long cgateway_random(void *buffer, unsigned long length);
