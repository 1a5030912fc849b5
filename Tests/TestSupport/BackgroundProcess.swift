// Programs the tests leave running in the background, the processes under them, whether a process
// still lives, and the one polling loop every wait goes through.
import Foundation

/// A child process running in the background, both outputs collected in a file. With
/// `newProcessGroup` it leads a process group of its own (as a shell job), and `stop` kills the group.
public final class BackgroundProcess: @unchecked Sendable {
  public let pid: pid_t
  public let logPath: String
  private let ownGroup: Bool
  private var exit: ExitStatus?
  private let lock = NSLock()

  public init(
    _ args: [String], environment: [String: String], directory: String? = nil, log: String,
    newProcessGroup: Bool = false
  ) throws {
    logPath = log
    ownGroup = newProcessGroup
    let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    defer { close(fd) }
    var options = SpawnOptions(environment: environment)
    options.newProcessGroup = newProcessGroup
    options.directory = directory
    options.stdoutFD = fd
    options.stderrFD = fd
    options.stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(options.stdinFD) }
    pid = try ChildProcess.spawn(args, options: options)
  }

  /// Both outputs so far.
  public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// How it ended (reaped here once it has); nil while it runs.
  public var exitStatus: ExitStatus? {
    lock.lock()
    defer { lock.unlock() }
    if exit == nil { exit = ChildProcess.exitStatusIfDone(pid) }
    return exit
  }

  public var isRunning: Bool { exitStatus == nil }

  public func signal(_ sig: Int32) { if isRunning { kill(pid, sig) } }

  /// Waits for the exit; nil on timeout. `status` is the exit code, or the signal when `signaled`.
  public func wait(timeout: TimeInterval) -> (status: Int32, signaled: Bool)? {
    let deadline = Date().addingTimeInterval(timeout)
    while isRunning && Date() < deadline { usleep(5_000) }
    switch exitStatus {
    case .exited(let code)?: return (code, false)
    case .signaled(let signal)?: return (signal, true)
    case nil: return nil
    }
  }

  /// SIGKILL (to its whole group when it leads one): whatever a failed test left running.
  public func stop() {
    if isRunning {
      kill(ownGroup ? -pid : pid, SIGKILL)
      _ = wait(timeout: 30)
    }
  }

  deinit { stop() }
}

/// Every descendant of `pid` that runs now, children's children included (via
/// /proc/PID/task/*/children), deepest last.
public func descendants(of pid: pid_t) -> [pid_t] {
  var result: [pid_t] = []
  var queue = [pid]
  while let next = queue.popLast() {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
    for task in tasks {
      let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
      for child in text.split(separator: " ").compactMap({ pid_t($0) }) {
        result.append(child)
        queue.append(child)
      }
    }
  }
  return result
}

/// Whether `pid` names a live process (one that another user owns counts too). A zombie has ended:
/// it only waits for its parent to reap it.
public func processIsAlive(_ pid: pid_t) -> Bool {
  guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
  // "PID (COMM) STATE ...": the state follows the last ')' (COMM may hold one).
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return false }
  return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}

/// Polls `condition` every `interval` seconds until it holds (true) or `timeout` seconds pass (then it
/// is asked once more). With `process`, also stops as soon as that process has ended, returning what
/// `condition` says then.
public func pollUntil(
  _ timeout: TimeInterval = 30, every interval: TimeInterval = 0.02, while process: BackgroundProcess? = nil,
  _ condition: () -> Bool
) -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while Date() < deadline {
    if condition() { return true }
    if let process, !process.isRunning { return condition() }
    usleep(useconds_t(interval * 1_000_000))
  }
  return condition()
}
