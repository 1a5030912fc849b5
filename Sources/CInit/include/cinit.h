// The little that comfy-init cannot do in Swift: code that runs before the Swift runtime starts,
// and the code between fork() and exec().
#ifndef CINIT_H
#define CINIT_H

#include <sys/signalfd.h>
#include <sys/types.h>

/// argc/argv as the kernel passed them, captured by a constructor before the Swift runtime starts
/// (a static Swift binary run as PID 1 without /proc otherwise sees an empty CommandLine.arguments).
int cinit_argc(void);
char *const *cinit_argv(void);

/// What the child does between fork() and exec().
typedef struct {
  const char *path;        ///< program; searched in the child's PATH when it holds no '/'
  char *const *argv;       ///< NULL-terminated
  char *const *envp;       ///< NULL-terminated
  const char *cwd;         ///< NULL: inherit
  int new_process_group;   ///< 1: the child leads a new process group (signals go to the whole group)
  int take_terminal;       ///< 1: if stdin is a terminal, make the child's group its foreground group
  int stdout_fd;           ///< -1: inherit; else dup2'd onto 1
  int stderr_fd;           ///< -1: inherit; else dup2'd onto 2
  int stdin_fd;            ///< -1: inherit; else dup2'd onto 0
  int parent_death_signal; ///< 0: none; else PR_SET_PDEATHSIG (single-threaded parents only)
  pid_t parent_pid;        ///< set by cinit_spawn (the child checks it after PR_SET_PDEATHSIG)
} cinit_spawn_attr;

/// fork + exec with a clean child: default signal handlers, empty signal mask, no inherited fds
/// above 2. Returns the child's pid. When exec fails, *exec_errno receives its errno (read back over
/// a close-on-exec pipe) and the returned child has already exited (127 for ENOENT, else 126):
/// the caller still reaps it (ChildProcess.spawn does). Returns -1 with errno set when fork itself fails.
pid_t cinit_spawn(const cinit_spawn_attr *attr, int *exec_errno);

/// prctl(PR_SET_CHILD_SUBREAPER) (prctl is variadic): orphans of our children are reparented to us.
int cinit_set_child_subreaper(void);

/// pipe2(fds, O_CLOEXEC) (glibc declares pipe2 only under _GNU_SOURCE).
int cinit_pipe_cloexec(int fds[2]);

/// openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC): the entry itself, a link included, without
/// opening it for reading (no side effect on a FIFO or a device). Usable as a dir fd, with fstat and
/// cinit_chown_fd. (O_PATH is a GNU name.)
int cinit_open_entry(int dir, const char *name);

/// fchownat(fd, "", uid, gid, AT_EMPTY_PATH): chowns what `fd` refers to (a link: the link itself).
int cinit_chown_fd(int fd, uid_t uid, gid_t gid);

/// renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE): swaps two existing names atomically (Linux
/// 3.15+; ext4, xfs, btrfs, tmpfs, overlayfs). -1 with errno EINVAL or ENOSYS where the filesystem or
/// kernel cannot, ENOENT when either name is missing.
int cinit_rename_exchange(const char *a, const char *b);

/// The id of the mount `fd` is on (statx STATX_MNT_ID, Linux 5.8+); 0 when the kernel cannot say.
/// Unlike st_dev it tells a bind mount from the filesystem it comes from.
unsigned long long cinit_mount_id(int fd);

#endif
