// STATE/status: which phase the init is in, for `comfy-init health` and `comfyctl up`'s progress
// line (a HEALTHCHECK then says "installing (venv)", not just "refused"). Status reads the file;
// PhaseReporter alone writes it.
#if canImport(Glibc)
  import Glibc
#endif

public struct Status: Sendable {
  public var phase: Phase
  public var since: Int
  public var pid: Int32
  public var detail: String
  /// The models phase's machine lines (`total ...`, `file ...`), which `health --progress` prints.
  public var progress: [String] = []

  /// nil when there is no status file, or it does not parse, or it names no phase this version knows.
  public static func read(_ layout: HomeLayout) -> Status? {
    guard let text = FileSystem.readState(layout.statusFile) else { return nil }
    var fields = [String: String]()
    var progress: [String] = []
    for line in text.split(separator: "\n") {
      guard let eq = line.firstIndex(of: "=") else { continue }
      let value = String(line[line.index(after: eq)...])
      if line[..<eq] == "progress" { progress.append(value) } else { fields[String(line[..<eq])] = value }
    }
    // A status that does not parse is no status: garbage must not pose as a live comfy-init (pid 0
    // or -1 reach every process) or make `health` compute with a time from before the epoch.
    guard let phase = fields["phase"].flatMap(Phase.init(rawValue:)), let since = Int(fields["since"] ?? ""),
      since >= 0, let pid = Int32(fields["pid"] ?? ""), pid > 0
    else { return nil }
    return Status(phase: phase, since: since, pid: pid, detail: fields["detail"] ?? "", progress: progress)
  }

  /// Best effort: a read-only home must not stop the server.
  fileprivate static func write(
    _ layout: HomeLayout, phase: Phase, detail: String = "", progress: [String] = [], pid: Int32 = getpid()
  ) {
    // A phase that reports progress keeps its start time, so `health` says how long it has been running.
    var since = wallClockSeconds()
    if let current = read(layout), current.phase == phase, current.pid == pid { since = current.since }
    let text =
      "phase=\(phase.rawValue)\nsince=\(since)\npid=\(pid)\ndetail=\(detail)\n"
      + progress.map { "progress=\($0)\n" }.joined()
    try? FileSystem.writeAtomically(layout.statusFile, text, durable: false)
  }
}

/// The one writer of the status file: the bootstrap's phases, `provision`, the server's start and
/// end, and a failure, each through it. A reporter that does not own the file reports nothing.
public struct PhaseReporter: Sendable {
  let layout: HomeLayout
  /// False for `provision` beside a live comfy-init: a `docker exec` next to a running server must
  /// not turn its health check into "provisioning".
  let ownsStatus: Bool

  /// `run` and `bootstrap` own the status file of their home.
  init(_ layout: HomeLayout) {
    self.layout = layout
    ownsStatus = true
  }

  /// `provision` owns it only when no live comfy-init does.
  static func besideOthers(_ layout: HomeLayout) -> PhaseReporter {
    var reporter = PhaseReporter(layout)
    if let status = Status.read(layout), status.pid != getpid(), !status.phase.isFinal {
      reporter = PhaseReporter(layout, ownsStatus: kill(status.pid, 0) != 0 && errno == ESRCH)
    }
    return reporter
  }

  private init(_ layout: HomeLayout, ownsStatus: Bool) {
    self.layout = layout
    self.ownsStatus = ownsStatus
  }

  /// `phase` began, or made progress that `detail` says.
  func report(_ phase: Phase, detail: String = "", progress: [String] = [], pid: Int32 = getpid()) {
    if ownsStatus { Status.write(layout, phase: phase, detail: detail, progress: progress, pid: pid) }
  }

  func failed(_ error: InitError) { report(.failed, detail: error.message) }

  /// Runs one phase: the status file says it is under way (`reportFirst: false`: once it is done,
  /// for the lock, whose waiters must not overwrite the holder's status), and one log line gives its
  /// result and duration.
  @discardableResult
  func run<T>(_ phase: Phase, reportFirst: Bool = true, _ body: () throws -> T) throws -> T {
    if reportFirst { report(phase) }
    let started = Instant.now()
    let result = try body()
    if !reportFirst { report(phase) }
    let note = (result as? String).map { ": " + $0 } ?? ""
    Log.info("\(phase.rawValue)\(note) (\(formatDuration(started.secondsSince)))")
    return result
  }
}
