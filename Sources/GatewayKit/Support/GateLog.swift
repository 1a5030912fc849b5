// The gate's log: one line per event on stderr, which comfy-init passes to the container log as it is.
// No line ever holds a credential: request targets go through RequestTarget.redacted first.
#if canImport(Glibc)
  import Glibc
#endif

public struct GateLog: Sendable {
  public init() {}

  public func info(_ message: String) { write("", message) }
  public func warn(_ message: String) { write("warning: ", message) }
  public func error(_ message: String) { write("error: ", message) }

  private func write(_ level: String, _ message: String) {
    let line = "comfy-gateway: " + level + message + "\n"
    var bytes = Array(line.utf8)
    bytes.withUnsafeMutableBytes { raw in
      var offset = 0
      while offset < raw.count {
        let n = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
        if n <= 0 { return }
        offset += n
      }
    }
  }
}
