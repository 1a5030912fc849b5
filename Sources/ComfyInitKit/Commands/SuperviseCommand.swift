// `comfy-init supervise CMD`: a plain init for any command (like tini), what `run` does once the
// bootstrap is over: signals forwarded, zombies reaped, the child's exit code passed on.
#if canImport(Glibc)
  import Glibc
#endif

enum SuperviseCommand {
  static func run(_ args: [String]) throws -> Int32 {
    var rest = args[...]
    var timeout = 8.0
    var translate: [Int32: Int32] = [:]
    while let flag = rest.first, flag.hasPrefix("-") {
      rest.removeFirst()
      if flag == "--" { break }
      guard let value = rest.popFirst() else { throw InitError(.usage, "\(flag) needs a value") }
      switch flag {
      case "--stop-timeout":
        guard let t = Double(value), t >= 0 else { throw InitError(.usage, "--stop-timeout takes seconds") }
        timeout = t
      case "--stop-signal":
        guard let s = Signals.number(named: value) else { throw InitError(.usage, "--stop-signal takes a signal name") }
        translate[SIGTERM] = s
      default: throw InitError(.usage, "unknown flag \(flag); see comfy-init --help")
      }
    }
    guard !rest.isEmpty else {
      throw InitError(.usage, "usage: comfy-init supervise [--stop-timeout S] [--stop-signal SIG] [--] CMD [ARGS...]")
    }
    let supervisor = Supervisor(signals: try SignalChannel())
    var options = SpawnOptions(environment: Config.processEnvironment())
    options.takeTerminal = true
    let pid: pid_t
    do { pid = try supervisor.start(Array(rest), options: options) } catch {
      throw InitError(ExitCode(shellCode: error.shellCode), "\(error)")
    }
    return supervisor.wait(for: pid, policy: .init(translate: translate, stopTimeout: timeout)).status.code
  }
}
