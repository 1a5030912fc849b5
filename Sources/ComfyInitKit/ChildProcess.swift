// Starting children: fork/exec happens in the C shim (only async-signal-safe code after fork),
// everything else is here.
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
  public var user: (uid: uid_t, gid: gid_t)? = nil

  public init(environment: [String: String]) { self.environment = environment }
}

public struct SpawnFailure: Error, CustomStringConvertible {
  public var program: String
  public var errnoValue: Int32
  /// The child that failed to exec, still to be reaped (nil when fork itself failed).
  public var pid: pid_t?
  public var exitCode: ExitCode { errnoValue == ENOENT ? .notFound : .cannotExecute }
  public var description: String {
    let reason = String(cString: strerror(errnoValue))
    return errnoValue == ENOENT
      ? "cannot run \(program): not found (\(reason))" : "cannot run \(program): \(reason)"
  }
}

public enum ChildProcess {
  /// Starts `arguments[0]` (searched in the child's PATH when it holds no "/").
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
        if let user = options.user {
          attr.drop_privileges = 1
          attr.uid = user.uid
          attr.gid = user.gid
        }
        return cinit_spawn(&attr, &execErrno)
      }
    }
    if pid < 0 { throw SpawnFailure(program: arguments[0], errnoValue: errno, pid: nil) }
    if execErrno != 0 { throw SpawnFailure(program: arguments[0], errnoValue: execErrno, pid: pid) }
    return pid
  }

  /// Replaces this process with `arguments` (COMFYUI_INIT=exec). Returns only on failure.
  public static func exec(_ arguments: [String], environment: [String: String]) -> SpawnFailure {
    let argv = CStringArray(arguments)
    let envp = CStringArray(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    execve(arguments[0], argv.pointer, envp.pointer)
    return SpawnFailure(program: arguments[0], errnoValue: errno, pid: nil)
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
