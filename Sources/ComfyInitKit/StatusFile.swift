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
    guard let text = FileSystem.readState(path(home: home)) else { return nil }
    var fields = [String: String]()
    for line in text.split(separator: "\n") {
      if let eq = line.firstIndex(of: "=") { fields[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
    }
    // A status that does not parse is no status: garbage must not pose as a live comfy-init (pid 0
    // or -1 reach every process) or make `health` compute with a time from before the epoch.
    guard let phase = fields["phase"], !phase.isEmpty, phase.utf8.allSatisfy({ $0 >= 97 && $0 <= 122 }),
      let since = Int(fields["since"] ?? ""), since >= 0, let pid = Int32(fields["pid"] ?? ""), pid > 0
    else { return nil }
    return Status(phase: phase, since: since, pid: pid, detail: fields["detail"] ?? "")
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
