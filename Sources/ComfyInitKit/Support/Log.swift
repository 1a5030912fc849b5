// Logging: one line per event on stderr, "comfy-init: ..."; phases report their duration
// (formatDuration; the clocks are Spawn's Instant and wallClockSeconds).
#if canImport(Glibc)
  import Glibc
#endif

public enum Log {
  /// Set by tests and `--quiet`; errors are always written.
  nonisolated(unsafe) public static var quiet = false

  public static func info(_ message: String) {
    if !quiet { write("comfy-init: " + message) }
  }

  public static func warn(_ message: String) { write("comfy-init: warning: " + message) }

  public static func error(_ message: String) { write("comfy-init: error: " + message) }

  private static func write(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let n = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
        if n <= 0 { if errno == EINTR { continue } else { return } }
        offset += n
      }
    }
  }
}

/// "1.23 s" or "45 ms".
public func formatDuration(_ seconds: Double) -> String {
  if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
  let hundredths = Int((seconds * 100).rounded())
  let fraction = hundredths % 100
  return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s"
}
