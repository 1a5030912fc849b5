#define _GNU_SOURCE
#include "cinit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int saved_argc;
static char **saved_argv;

int cinit_argc(void) { return saved_argc; }
char *const *cinit_argv(void) { return saved_argv; }

// Runs before libswiftCore's own initialisers (priority 101 is the earliest user priority):
// the static Swift runtime aborts when it cannot read /proc/self/exe, so PID 1 in a bare
// namespace mounts /proc first.
__attribute__((constructor(101))) static void cinit_capture(int argc, char **argv, char **envp) {
  (void)envp;
  saved_argc = argc;
  saved_argv = argv;
  // The server runs as our uid and could otherwise read our /proc/PID/environ (a COMFYUI_PASSWORD given
  // there) and memory. Children become dumpable again at their exec.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct stat st;
  if (getpid() == 1 && stat("/proc/self/exe", &st) != 0) {
    mkdir("/proc", 0555);
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  }
}

// After fork, only async-signal-safe calls until exec.
static void cinit_child(const cinit_spawn_attr *a, int err_fd) {
  sigset_t empty;
  sigemptyset(&empty);
  // The raw syscall, not signal(): glibc refuses signals 32 and 33 (its own real-time signals) with
  // EINVAL, yet a SIG_IGN for them survives execve like any other (a parent using Foundation's
  // Process hands them over ignored). An all-zero kernel sigaction is SIG_DFL, no flags, empty mask,
  // whatever the architecture's layout; the kernel's sigset is _NSIG / 8 bytes (glibc's _NSIG is one more).
  unsigned long default_action[8] = {0};
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, default_action, NULL, _NSIG / 8);
  }
  if (a->new_process_group) setpgid(0, 0);
  if (a->take_terminal && isatty(STDIN_FILENO)) {
    // The init stays in the background group; SIGTTOU is still blocked here, so this cannot stop us.
    tcsetpgrp(STDIN_FILENO, getpgrp());
  }
  sigprocmask(SIG_SETMASK, &empty, NULL);
  if (a->stdin_fd >= 0) dup2(a->stdin_fd, STDIN_FILENO);
  if (a->stdout_fd >= 0) dup2(a->stdout_fd, STDOUT_FILENO);
  if (a->stderr_fd >= 0) dup2(a->stderr_fd, STDERR_FILENO);
  // Nothing the init holds open leaks into the server (the error pipe is close-on-exec already).
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 1024; fd++) {
      if (fd != err_fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  int err = 0;
  if (a->cwd && chdir(a->cwd) != 0) err = errno;
  if (!err) {
    // If the init dies abruptly (SIGKILL when it is not PID 1), the server must not live on
    // unsupervised.
    if (a->parent_death_signal) {
      prctl(PR_SET_PDEATHSIG, a->parent_death_signal);
      if (getppid() != a->parent_pid) _exit(1);
    }
    execvpe(a->path, a->argv, a->envp);
    err = errno;
  }
  ssize_t ignored = write(err_fd, &err, sizeof err);
  (void)ignored;
  _exit(err == ENOENT ? 127 : 126);
}

pid_t cinit_spawn(const cinit_spawn_attr *attr, int *exec_errno) {
  *exec_errno = 0;
  cinit_spawn_attr copy = *attr;
  copy.parent_pid = getpid();
  const cinit_spawn_attr *a = &copy;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(fds[0]);
    close(fds[1]);
    errno = saved;
    return -1;
  }
  if (pid == 0) cinit_child(a, fds[1]);
  close(fds[1]);
  // Both sides set the group, so signals sent right after we return reach it.
  if (a->new_process_group) setpgid(pid, pid);
  int err = 0;
  ssize_t n;
  do {
    n = read(fds[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == (ssize_t)sizeof err) *exec_errno = err;
  return pid;
}

int cinit_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int cinit_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int cinit_open_entry(int dir, const char *name) { return openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC); }

int cinit_chown_fd(int fd, uid_t uid, gid_t gid) { return fchownat(fd, "", uid, gid, AT_EMPTY_PATH); }

unsigned long long cinit_mount_id(int fd) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0) return 0;
  return (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
}

int cinit_rename_exchange(const char *a, const char *b) {
  return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
}
