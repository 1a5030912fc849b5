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

  /// nil when there is no status file, or it names no phase this version knows.
  public static func read(_ layout: HomeLayout) -> Status? {
    guard let text = FileSystem.readText(layout.statusFile) else { return nil }
    var fields = [String: String]()
    for line in text.split(separator: "\n") {
      if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
    }
    guard let phase = fields["phase"].flatMap(Phase.init(rawValue:)) else { return nil }
    return Status(
      phase: phase, since: Int(fields["since"] ?? "") ?? 0, pid: Int32(fields["pid"] ?? "") ?? 0,
      detail: fields["detail"] ?? "")
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
