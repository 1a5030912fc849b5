// Logging: one line per event on stderr, "comfy-init: ..."; phases report their duration.
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

/// Monotonic time, for durations and deadlines.
public struct Instant: Sendable {
  public var nanoseconds: UInt64

  public static func now() -> Instant {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Instant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
  }

  public var secondsSince: Double { Double(Instant.now().nanoseconds &- nanoseconds) / 1e9 }

  /// Negative seconds move the instant back.
  public func adding(seconds: Double) -> Instant {
    let delta = Int64(seconds * 1e9)
    return Instant(nanoseconds: UInt64(max(0, Int64(nanoseconds) + delta)))
  }

  /// Milliseconds from now until this instant, at least 0 (for poll()).
  public var millisecondsFromNow: Int32 {
    let now = Instant.now().nanoseconds
    return nanoseconds <= now ? 0 : Int32(min(Int64(Int32.max), Int64((nanoseconds - now) / 1_000_000) + 1))
  }
}

/// Wall-clock seconds since the epoch, for state files that other processes read.
public func wallClockSeconds() -> Int {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return ts.tv_sec
}

/// "1.23 s" or "45 ms".
public func formatDuration(_ seconds: Double) -> String {
  if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
  let hundredths = Int((seconds * 100).rounded())
  let fraction = hundredths % 100
  return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s"
}
