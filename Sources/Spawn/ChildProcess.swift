// Starting children, for comfy-init, comfyctl and the tests alike: fork/exec happens in the C shim
// (only async-signal-safe code after fork), everything else is here. (Foundation's Process is not used:
// in Swift 6.3.1 its run() over-reads a dirent and crashes now and then.)
import CInit

#if canImport(Glibc)
  import Glibc
#endif

/// How a child ended, with the shell's number for it.
public enum ExitStatus: Equatable, Sendable {
  case exited(Int32)
  case signaled(Int32)

  public init(waitStatus status: Int32) {
    // WIFEXITED/WEXITSTATUS/WTERMSIG are C macros Swift cannot import.
    let low = status & 0x7f
    self = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
  }

  /// 0-255 as a shell reports it: the exit code, or 128+n for death by signal n.
  public var code: Int32 {
    switch self {
    case .exited(let code): return code
    case .signaled(let signal): return 128 + signal
    }
  }

  public var isSuccess: Bool { self == .exited(0) }

  public var description: String {
    switch self {
    case .exited(let code): return "exit code \(code)"
    case .signaled(let signal): return "killed by \(Signals.name(signal))"
    }
  }
}

public struct SpawnOptions {
  public var directory: String? = nil
  public var environment: [String: String]
  public var newProcessGroup = true
  /// Give the child the terminal (docker run -it): Ctrl-C then reaches it directly.
  public var takeTerminal = false
  public var stdoutFD: Int32 = -1
  public var stderrFD: Int32 = -1
  public var stdinFD: Int32 = -1
  /// Signal the child gets when the thread that started it dies (0: none). Only for single-threaded
  /// parents such as comfy-init: in a threaded one the spawning thread may end before the child.
  public var parentDeathSignal: Int32 = 0

  public init(environment: [String: String]) { self.environment = environment }
}

public struct SpawnFailure: Error, CustomStringConvertible {
  public var program: String
  public var errnoValue: Int32
  /// What a shell reports: 127 when the program is not found, 126 when it cannot run.
  public var shellCode: Int32 { errnoValue == ENOENT ? 127 : 126 }
  public var description: String {
    let reason = String(cString: strerror(errnoValue))
    return errnoValue == ENOENT
      ? "cannot run \(program): not found (\(reason))" : "cannot run \(program): \(reason)"
  }
}

public enum ChildProcess {
  /// Starts `arguments[0]` (searched in the child's PATH when it holds no "/"). When the exec fails,
  /// the child (which exits at once) is reaped here before the error is thrown: no caller waits for it.
  public static func spawn(_ arguments: [String], options: SpawnOptions) throws(SpawnFailure) -> pid_t {
    let argv = CStringArray(arguments)
    let envp = CStringArray(options.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    var execErrno: Int32 = 0
    let pid: pid_t = arguments[0].withCString { path in
      withOptionalCString(options.directory) { cwd in
        var attr = cinit_spawn_attr()
        attr.path = path
        attr.argv = UnsafePointer(argv.pointer)
        attr.envp = UnsafePointer(envp.pointer)
        attr.cwd = cwd
        attr.new_process_group = options.newProcessGroup ? 1 : 0
        attr.take_terminal = options.takeTerminal ? 1 : 0
        attr.stdout_fd = options.stdoutFD
        attr.stderr_fd = options.stderrFD
        attr.stdin_fd = options.stdinFD
        attr.parent_death_signal = options.parentDeathSignal
        return cinit_spawn(&attr, &execErrno)
      }
    }
    if pid < 0 { throw SpawnFailure(program: arguments[0], errnoValue: errno) }
    if execErrno != 0 {
      _ = waitForExit(pid)
      throw SpawnFailure(program: arguments[0], errnoValue: execErrno)
    }
    return pid
  }

  /// Replaces this process with `arguments` (COMFYUI_INIT=exec). Returns only on failure.
  public static func exec(_ arguments: [String], environment: [String: String]) -> SpawnFailure {
    let argv = CStringArray(arguments)
    let envp = CStringArray(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    execve(arguments[0], argv.pointer, envp.pointer)
    return SpawnFailure(program: arguments[0], errnoValue: errno)
  }
}

/// A NULL-terminated char*[] that lives as long as this object.
final class CStringArray {
  let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  private let count: Int

  init(_ strings: [String]) {
    count = strings.count
    pointer = .allocate(capacity: count + 1)
    for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
    pointer[count] = nil
  }

  deinit {
    for i in 0..<count { free(pointer[i]) }
    pointer.deallocate()
  }
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
  guard let string else { return body(nil) }
  return string.withCString { body($0) }
}

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
    let upper = String(text.filter { !$0.isWhitespace }).uppercased()
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

/// What `ChildProcess.run` collected.
public struct ChildResult: Sendable {
  public var status: ExitStatus
  public var stdout: [UInt8]
  public var stderr: [UInt8]
  /// True when the timeout ran out and the child was killed.
  public var timedOut: Bool
}

extension ChildProcess {
  /// Runs to completion with stdout and stderr collected, `stdin` fed in. Reads both pipes in one
  /// poll loop, so a chatty child never blocks on a full pipe. For threaded callers (comfyctl, tests):
  /// it reaps only its own child.
  public static func run(
    _ arguments: [String], environment: [String: String], directory: String? = nil, stdin: [UInt8] = [],
    timeout: Double? = nil
  ) throws(SpawnFailure) -> ChildResult {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    var inPipe: [Int32] = [-1, -1]
    guard cinit_pipe_cloexec(&outPipe) == 0, cinit_pipe_cloexec(&errPipe) == 0, cinit_pipe_cloexec(&inPipe) == 0 else {
      throw SpawnFailure(program: arguments[0], errnoValue: errno)
    }
    var options = SpawnOptions(environment: environment)
    options.directory = directory
    options.newProcessGroup = false
    options.stdinFD = inPipe[0]
    options.stdoutFD = outPipe[1]
    options.stderrFD = errPipe[1]
    let pid: pid_t
    do {
      pid = try spawn(arguments, options: options)
    } catch {
      for fd in outPipe + errPipe + inPipe { close(fd) }
      throw error
    }
    close(outPipe[1])
    close(errPipe[1])
    close(inPipe[0])
    // Small inputs fit the pipe buffer; a child that does not read gets EPIPE, not a hang.
    signal(SIGPIPE, SIG_IGN)
    stdin.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let n = write(inPipe[1], buffer.baseAddress! + offset, buffer.count - offset)
        if n <= 0 { break }
        offset += n
      }
    }
    close(inPipe[1])
    var out = [UInt8]()
    var err = [UInt8]()
    var open = [outPipe[0], errPipe[0]]
    let deadline = timeout.map { Instant.now().adding(seconds: $0) }
    var timedOut = false
    var chunk = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
      var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
      let wait = deadline.map { min(1000, $0.millisecondsFromNow) } ?? 1000
      _ = poll(&fds, nfds_t(fds.count), wait)
      for entry in fds where entry.revents != 0 {
        let n = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
        if n > 0 {
          if entry.fd == outPipe[0] { out += chunk[0..<n] } else { err += chunk[0..<n] }
        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
          close(entry.fd)
          open.removeAll { $0 == entry.fd }
        }
      }
      if let deadline, !timedOut, deadline.millisecondsFromNow == 0 {
        kill(pid, SIGKILL)
        timedOut = true
      }
    }
    return ChildResult(status: waitForExit(pid), stdout: out, stderr: err, timedOut: timedOut)
  }

  /// Blocks until `pid` has exited and returns how.
  public static func waitForExit(_ pid: pid_t) -> ExitStatus {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return ExitStatus(waitStatus: status)
  }

  /// The exit status if `pid` has exited (reaping it), nil while it runs.
  public static func exitStatusIfDone(_ pid: pid_t) -> ExitStatus? {
    var status: Int32 = 0
    return waitpid(pid, &status, WNOHANG) == pid ? ExitStatus(waitStatus: status) : nil
  }
}
