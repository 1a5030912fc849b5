// comfy-init's whole signal handling: every catchable signal is blocked from the first moment and
// read synchronously from a signalfd, so nothing runs in a signal handler and nothing is lost.
import CInit

#if canImport(Glibc)
  import Glibc
#endif

public enum Signals {
  private static let names: [(String, Int32)] = [
    ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP), ("ABRT", SIGABRT),
    ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL), ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2),
    ("PIPE", SIGPIPE), ("ALRM", SIGALRM), ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD),
    ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN), ("TTOU", SIGTTOU), ("URG", SIGURG),
    ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH),
    ("IO", SIGIO), ("PWR", SIGPWR), ("SYS", SIGSYS),
  ]

  /// "SIGINT", "int", "2" → 2.
  public static func number(named text: String) -> Int32? {
    let upper = text.trimmingWhitespace().uppercased()
    if let n = Int32(upper), n > 0, n < 32 { return n }
    let bare = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
    return names.first { $0.0 == bare }?.1
  }

  public static func name(_ number: Int32) -> String {
    names.first { $0.1 == number }.map { "SIG" + $0.0 } ?? "signal \(number)"
  }

  /// Signals that ask the whole container to stop.
  public static func isStopRequest(_ signal: Int32) -> Bool {
    signal == SIGTERM || signal == SIGINT || signal == SIGQUIT
  }
}

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
