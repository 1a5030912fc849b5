// HTTP Basic sends the password with every request; bcrypt costs about 0.3 s. A credential verified
// once is remembered for `lifetime` seconds as a keyed hash (never the password itself), and
// forgotten when the credential changes.
import Digest
import Synchronization

final class VerifiedCache: Sendable {
  private struct State {
    var generation = -1
    var expiries: [[UInt8]: Double] = [:]
  }
  private let state = Mutex(State())
  /// A key of this process only: the entries mean nothing outside it.
  private let key = randomBytes(32)
  let lifetime: Double
  private let capacity = 1024

  init(lifetime: Double = 600) {
    self.lifetime = lifetime
  }

  private func entry(user: String, password: String) -> [UInt8] {
    hmacSHA256(key: key, message: Array(user.utf8) + [0] + Array(password.utf8))
  }

  func contains(user: String, password: String, generation: Int, now: Double = LoginThrottle.monotonicSeconds())
    -> Bool
  {
    let wanted = entry(user: user, password: password)
    return state.withLock { state in
      guard state.generation == generation, let expiry = state.expiries[wanted] else { return false }
      return expiry > now
    }
  }

  func insert(user: String, password: String, generation: Int, now: Double = LoginThrottle.monotonicSeconds()) {
    let added = entry(user: user, password: password)
    state.withLock { state in
      if state.generation != generation {
        state = State(generation: generation)
      }
      if state.expiries.count >= capacity {
        state.expiries = state.expiries.filter { $0.value > now }
        if state.expiries.count >= capacity { state.expiries.removeAll() }
      }
      state.expiries[added] = now + lifetime
    }
  }
}
