// COMFYUI_HOME/.comfy-init/status: which phase the init is in, for `comfy-init health` and
// `comfyctl up`'s progress line (a HEALTHCHECK then says "installing (venv)", not just "refused").
#if canImport(Glibc)
  import Glibc
#endif

public struct Status: Sendable {
  public var phase: String
  public var since: Int
  public var pid: Int32
  public var detail: String

  static func path(home: String) -> String { home + "/.comfy-init/status" }

  public static func read(home: String) -> Status? {
    guard let text = FileSystem.readText(path(home: home)) else { return nil }
    var fields = [String: String]()
    for line in text.split(separator: "\n") {
      if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
    }
    guard let phase = fields["phase"] else { return nil }
    return Status(
      phase: phase, since: Int(fields["since"] ?? "") ?? 0, pid: Int32(fields["pid"] ?? "") ?? 0,
      detail: fields["detail"] ?? "")
  }

  /// Best effort: a read-only home must not stop the server.
  public static func write(home: String, phase: String, detail: String = "", pid: Int32 = getpid()) {
    // A phase that reports progress keeps its start time, so `health` says how long it has been running.
    var since = wallClockSeconds()
    if let current = read(home: home), current.phase == phase, current.pid == pid { since = current.since }
    let text = "phase=\(phase)\nsince=\(since)\npid=\(pid)\ndetail=\(detail)\n"
    try? FileSystem.writeAtomically(path(home: home), text, durable: false)
  }
}
