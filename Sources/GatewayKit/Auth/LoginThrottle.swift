// A password guesser must not burn the CPU: every check that may run bcrypt (a login form, an HTTP
// Basic credential not yet verified) spends a token of its client's bucket; and at most `slots`
// bcrypt checks run at once, whoever asks.
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

final class LoginThrottle: Sendable {
  /// Attempts a client may make at once, and one more every `refillSeconds`.
  let burst: Double
  let refillSeconds: Double
  private struct Bucket {
    var tokens: Double
    var updated: Double
  }
  private let buckets = Mutex<[String: Bucket]>([:])
  private let running = Atomic<Int>(0)
  let slots: Int
  /// Clients remembered at most: an attacker with many addresses cannot grow the table without bound.
  private let maxClients = 10_000

  init(burst: Double = 10, refillSeconds: Double = 6, slots: Int = 2) {
    self.burst = burst
    self.refillSeconds = refillSeconds
    self.slots = slots
  }

  /// Takes one attempt from `client`'s bucket; nil when allowed, else the seconds until the next one.
  func take(for client: String, now: Double = LoginThrottle.monotonicSeconds()) -> Int? {
    buckets.withLock { table in
      if table.count >= maxClients, table[client] == nil {
        // Forget the full buckets first: they are the clients that stopped trying.
        table = table.filter { now - $0.value.updated < refillSeconds * burst }
        if table.count >= maxClients { table.removeAll() }
      }
      var bucket = table[client] ?? Bucket(tokens: burst, updated: now)
      bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) / refillSeconds)
      bucket.updated = now
      guard bucket.tokens >= 1 else {
        table[client] = bucket
        return Int((1 - bucket.tokens) * refillSeconds) + 1
      }
      bucket.tokens -= 1
      table[client] = bucket
      return nil
    }
  }

  /// Runs `check` (bcrypt) when a slot is free; nil when all are busy.
  func withSlot<T: Sendable>(_ check: @Sendable () async throws -> T) async rethrows -> T? {
    let before = running.add(1, ordering: .acquiringAndReleasing).oldValue
    defer { running.subtract(1, ordering: .acquiringAndReleasing) }
    guard before < slots else { return nil }
    return try await check()
  }

  static func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }
}
