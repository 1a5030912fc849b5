// comfy-init's whole signal handling: every catchable signal is blocked from the first moment and
// read synchronously from a signalfd, so nothing runs in a signal handler and nothing is lost.
import CInit
@_exported import Spawn

#if canImport(Glibc)
  import Glibc
#endif

/// Blocks signals 1-31 for the whole process and reads them from a signalfd.
public final class SignalChannel {
  public let fd: Int32
  private var mask = sigset_t()

  public init() throws(SystemError) {
    sigemptyset(&mask)
    for signal in Int32(1)...31 where signal != SIGKILL && signal != SIGSTOP {
      sigaddset(&mask, signal)
    }
    sigprocmask(SIG_BLOCK, &mask, nil)
    fd = signalfd(-1, &mask, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
    guard fd >= 0 else { throw SystemError("create", "signalfd") }
  }

  deinit { close(fd) }

  /// Returns the signals that arrived, waiting up to `timeoutMilliseconds` (-1: until one does).
  /// SIGCHLD is included like any other: the caller decides to reap.
  public func wait(timeoutMilliseconds: Int32, alsoWakeOn extraFDs: [Int32] = []) -> [Int32] {
    var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
    for extra in extraFDs { fds.append(pollfd(fd: extra, events: Int16(POLLIN), revents: 0)) }
    _ = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
    return drain()
  }

  /// Reads every pending signal without waiting.
  public func drain() -> [Int32] {
    var received = [Int32]()
    var info = signalfd_siginfo()
    let size = MemoryLayout<signalfd_siginfo>.size
    let me = UInt32(getpid())
    while read(fd, &info, size) == size {
      // A SIGPIPE the kernel raised for our own write (the log reader went away) is ours, not the child's.
      if Int32(info.ssi_signo) == SIGPIPE && info.ssi_pid == me { continue }
      received.append(Int32(info.ssi_signo))
    }
    return received
  }

  /// Undoes the blocking, for `exec`: a blocked mask survives execve and would deafen the server.
  public func restoreForExec() {
    sigprocmask(SIG_UNBLOCK, &mask, nil)
  }
}
