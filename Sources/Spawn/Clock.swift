// The two clocks, for every module: `Instant` (monotonic) for durations, deadlines and timeouts;
// `wallClockSeconds` for state files that other processes read.
#if canImport(Glibc)
  import Glibc
#endif

/// Monotonic time, for durations and deadlines.
public struct Instant: Sendable {
  public var nanoseconds: UInt64

  public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

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
