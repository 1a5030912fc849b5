// A password guesser must not burn the CPU nor guess fast: every wrong password (a login form, an HTTP
// Basic credential) spends a token of its client's bucket, and a client with an empty bucket gets no
// password checked at all until it refills; at most `slots` bcrypt checks run at once, whoever asks.
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

final class LoginThrottle: Sendable {
  /// Wrong passwords a client may send at once, and one more every `refillSeconds`.
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

  /// nil when `client` may try a password now, else the seconds until it may.
  func waitFor(_ client: String, now: Double = LoginThrottle.monotonicSeconds()) -> Int? {
    buckets.withLock { table in
      guard var bucket = table[client] else { return nil }
      bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) / refillSeconds)
      bucket.updated = now
      table[client] = bucket
      return bucket.tokens >= 1 ? nil : Int((1 - bucket.tokens) * refillSeconds) + 1
    }
  }

  /// A wrong password from `client`: one token of its bucket.
  func recordFailure(for client: String, now: Double = LoginThrottle.monotonicSeconds()) {
    buckets.withLock { table in
      if table.count >= maxClients, table[client] == nil {
        // Forget the full buckets first: they are the clients that stopped trying.
        table = table.filter { now - $0.value.updated < refillSeconds * burst }
        if table.count >= maxClients { table.removeAll() }
      }
      var bucket = table[client] ?? Bucket(tokens: burst, updated: now)
      bucket.tokens = max(0, min(burst, bucket.tokens + (now - bucket.updated) / refillSeconds) - 1)
      bucket.updated = now
      table[client] = bucket
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
