// Runs external programs (docker) with an argv array, never through a shell, and never with a secret
// in the arguments: argv is visible to every user of the machine.
import Foundation
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

public struct ProcessOutput: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public var succeeded: Bool { status == 0 }
  /// The last non-empty line of stderr (or stdout): what a one-line error quotes.
  public var lastLine: String {
    let lines = (stderr + "\n" + stdout).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    return lines.last { !$0.isEmpty } ?? "no output"
  }
}

public enum ProcessRunner {
  /// Full path of `program` on PATH, or nil.
  public static func which(_ program: String) -> String? {
    if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
    let path = HostEnvironment.searchPath
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(program)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// argv with the program resolved on PATH, and this process's environment plus `environment`.
  static func prepare(_ args: [String], environment: [String: String]) throws(CtlError)
    -> ([String], [String: String])
  {
    guard let executable = which(args[0]) else {
      throw CtlError(.dockerUnavailable, "\(args[0]) is not on PATH; install it (for Docker: scripts/docker-engine)")
    }
    return ([executable] + args.dropFirst(), HostEnvironment.variables.merging(environment) { $1 })
  }

  /// Runs to completion, collecting both outputs.
  public static func capture(
    _ args: [String], environment: [String: String] = [:], directory: String? = nil, input: String? = nil
  ) throws(CtlError) -> ProcessOutput {
    let (argv, env) = try prepare(args, environment: environment)
    do {
      let result = try ChildProcess.run(argv, environment: env, directory: directory, stdin: Array((input ?? "").utf8))
      return ProcessOutput(
        status: result.status.code, stdout: String(decoding: result.stdout, as: UTF8.self),
        stderr: String(decoding: result.stderr, as: UTF8.self))
    } catch {
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(error)")
    }
  }

  /// A signal that stops only comfyctl (a supervisor's SIGTERM, `timeout`; not Ctrl-C, which reaches
  /// the whole process group) would leave a streamed child running on its own: `logs -f` would follow
  /// forever. The kernel sends it this when comfyctl is gone. comfyctl spawns from its main thread,
  /// which lives as long as the process.
  static let foregroundChildDeathSignal = SIGTERM

  /// Runs with the terminal's stdout and stderr (build output, `compose up` progress).
  public static func stream(_ args: [String], environment: [String: String] = [:], directory: String? = nil)
    throws(CtlError) -> Int32
  {
    let (argv, env) = try prepare(args, environment: environment)
    var options = SpawnOptions(environment: env)
    options.directory = directory
    // Same process group: Ctrl-C in the terminal reaches docker too.
    options.newProcessGroup = false
    options.parentDeathSignal = foregroundChildDeathSignal
    options.stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(options.stdinFD) }
    do {
      return ChildProcess.waitForExit(try ChildProcess.spawn(argv, options: options)).code
    } catch {
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(error)")
    }
  }

  /// Runs with stdout and stderr passed line by line through `filter` to `output` (our stdout: one
  /// write per line, so lines of commands streamed side by side never mix).
  public static func streamFiltered(
    _ args: [String], environment: [String: String] = [:], directory: String? = nil,
    filter: @escaping @Sendable (String) -> String,
    output: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
  ) throws(CtlError) -> Int32 {
    let (argv, env) = try prepare(args, environment: environment)
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw CtlError(.dockerUnavailable, "cannot create a pipe for \(args[0])") }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    var options = SpawnOptions(environment: env)
    options.directory = directory
    options.newProcessGroup = false
    options.parentDeathSignal = foregroundChildDeathSignal
    options.stdoutFD = fds[1]
    options.stderrFD = fds[1]
    options.stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(options.stdinFD) }
    let pid: pid_t
    do { pid = try ChildProcess.spawn(argv, options: options) } catch {
      close(fds[0])
      close(fds[1])
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(error)")
    }
    close(fds[1])
    var pending = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      pending += chunk[0..<n]
      while let newline = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[...newline], as: UTF8.self)
        pending.removeSubrange(...newline)
        output(filter(line))
      }
    }
    close(fds[0])
    if !pending.isEmpty { output(filter(String(decoding: pending, as: UTF8.self))) }
    return ChildProcess.waitForExit(pid).code
  }

  /// Several commands at once, each streamed as `streamFiltered` does: `docker service logs --follow`
  /// takes one service, and following one after the other would never reach the second. The first
  /// non-zero status in the order given, else 0; a command that cannot start counts as 127.
  public static func streamFilteredSideBySide(
    _ commands: [[String]], filter: @escaping @Sendable (String) -> String,
    output: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
  ) -> Int32 {
    let statuses = Statuses(count: commands.count)
    let group = DispatchGroup()
    for (index, command) in commands.enumerated() {
      group.enter()
      // A thread each, not a pool: a pool of as many threads as cores would leave the rest waiting.
      Thread.detachNewThread {
        statuses.set(index, (try? streamFiltered(command, filter: filter, output: output)) ?? 127)
        group.leave()
      }
    }
    group.wait()
    return statuses.values.first { $0 != 0 } ?? 0
  }
}

/// The exit statuses of commands run side by side, written from their threads.
private final class Statuses: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [Int32]

  init(count: Int) { stored = Array(repeating: 0, count: count) }

  func set(_ index: Int, _ status: Int32) { lock.withLock { stored[index] = status } }

  var values: [Int32] { lock.withLock { stored } }
}
