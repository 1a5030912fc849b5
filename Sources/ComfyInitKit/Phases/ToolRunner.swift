// Runs the bootstrap's tools (git, python, pip, uv) as supervised children: a stop signal reaches
// them at once, and their zombies are reaped like any other.
import CInit

#if canImport(Glibc)
  import Glibc
#endif

public struct ToolRunner {
  public let supervisor: Supervisor
  public let environment: [String: String]
  /// Where `which` looks (Config.searchPath: the PATH children get).
  public let searchPath: String
  /// Marks every tool, so that none outlives the start's hold on the home (ToolLedger); nil: unmarked.
  var ledger: ToolLedger? = nil

  public init(supervisor: Supervisor, environment: [String: String], searchPath: String) {
    self.supervisor = supervisor
    self.environment = environment
    self.searchPath = searchPath
  }

  public struct Result {
    public var status: ExitStatus
    public var output: String
  }

  /// Runs `arguments` to its end. With `capture`, its stdout is returned instead of shown;
  /// its stderr always goes to comfy-init's stderr, which is the container log. `unsetting` names
  /// variables this one child does not get.
  public func run(
    _ arguments: [String], in directory: String? = nil, extraEnvironment: [String: String] = [:],
    unsetting: [String] = [], capture: Bool = false, failure: ExitCode
  ) throws -> Result {
    try supervisor.throwIfStopped()
    try ledger?.recordBeforeFirstTool()
    var variables = environment.merging(extraEnvironment) { $1 }.merging(ledger?.environment ?? [:]) { $1 }
    for name in unsetting { variables.removeValue(forKey: name) }
    var options = SpawnOptions(environment: variables)
    options.directory = directory
    // Tools never read the terminal: a prompt (git asking for a password) must fail, not hang.
    options.stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(options.stdinFD) }
    var pipeFDs: [Int32] = [-1, -1]
    if capture {
      guard cinit_pipe_cloexec(&pipeFDs) == 0 else {
        throw InitError(failure, "cannot create a pipe for \(arguments[0]): \(String(cString: strerror(errno)))")
      }
      options.stdoutFD = pipeFDs[1]
    } else {
      // Tool chatter belongs with the log, not on the server's stdout.
      options.stdoutFD = 2
    }
    let pid: pid_t
    do {
      pid = try supervisor.start(arguments, options: options)
    } catch {
      if capture { close(pipeFDs[0]); close(pipeFDs[1]) }
      throw InitError(failure, "\(error); install it or fix PATH")
    }
    if capture { close(pipeFDs[1]) }
    let output = capture ? OutputCapture(fd: pipeFDs[0]) : nil
    let outcome = supervisor.wait(for: pid, policy: Supervisor.Policy(stopTimeout: 10), watch: output)
    if capture { close(pipeFDs[0]) }
    try supervisor.throwIfStopped()
    var text = String(decoding: output?.bytes ?? [], as: UTF8.self)
    while text.hasSuffix("\n") { text.removeLast() }
    return Result(status: outcome.status, output: text)
  }

  /// Runs and insists on success.
  @discardableResult
  public func check(
    _ arguments: [String], in directory: String? = nil, extraEnvironment: [String: String] = [:],
    unsetting: [String] = [], capture: Bool = false, failure: ExitCode, explain: String
  ) throws -> String {
    let result = try run(
      arguments, in: directory, extraEnvironment: extraEnvironment, unsetting: unsetting, capture: capture,
      failure: failure)
    guard result.status.isSuccess else {
      throw InitError(failure, "\(explain) (\(arguments.first ?? "") ended with \(result.status.description))")
    }
    return result.output
  }

  /// The first executable of that name on PATH.
  public func which(_ name: String) -> String? {
    for dir in searchPath.split(separator: ":") where FileSystem.isExecutable("\(dir)/\(name)") {
      return "\(dir)/\(name)"
    }
    return nil
  }
}
