// COMFYUI_HOME/.comfy-init/status: which phase the init is in, for `comfy-init health` and
// `comfyctl up`'s progress line (a HEALTHCHECK then says "installing (venv)", not just "refused").
#if canImport(Glibc)
  import Glibc
#endif

public struct Status: Sendable {
  public var phase: Phase
  public var since: Int
  public var pid: Int32
  public var detail: String

  /// nil when there is no status file, or it does not parse, or it names no phase this version knows.
  public static func read(_ layout: HomeLayout) -> Status? {
    guard let text = FileSystem.readState(layout.statusFile) else { return nil }
    var fields = [String: String]()
    for line in text.split(separator: "\n") {
      if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
    }
    // A status that does not parse is no status: garbage must not pose as a live comfy-init (pid 0
    // or -1 reach every process) or make `health` compute with a time from before the epoch.
    guard let phase = fields["phase"].flatMap(Phase.init(rawValue:)), let since = Int(fields["since"] ?? ""),
      since >= 0, let pid = Int32(fields["pid"] ?? ""), pid > 0
    else { return nil }
    return Status(phase: phase, since: since, pid: pid, detail: fields["detail"] ?? "")
  }

  /// Best effort: a read-only home must not stop the server.
  public static func write(_ layout: HomeLayout, phase: Phase, detail: String = "", pid: Int32 = getpid()) {
    // A phase that reports progress keeps its start time, so `health` says how long it has been running.
    var since = wallClockSeconds()
    if let current = read(layout), current.phase == phase, current.pid == pid { since = current.since }
    let text = "phase=\(phase.rawValue)\nsince=\(since)\npid=\(pid)\ndetail=\(detail)\n"
    try? FileSystem.writeAtomically(layout.statusFile, text, durable: false)
  }
}
