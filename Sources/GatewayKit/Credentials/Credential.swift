// What the gate checks credentials against, and the one place that holds it while the gate runs.
import Digest
import Synchronization

/// The server's credential: ComfyUI-Login's PASSWORD, line 1 the bcrypt hash (which is also the API
/// token clients send as `Bearer` or `?token=`), line 2 the user name.
public struct Credential: Sendable, Equatable {
  public var user: String
  public var hash: String

  public init(user: String, hash: String) {
    self.user = user
    self.hash = hash
  }

  /// The Authorization value that carries the token upstream (ComfyUI-Login's `Bearer TOKEN`): the
  /// one place the gate writes it.
  static func bearer(_ token: String) -> String { "Bearer " + token }

  /// The token comparison, without an early exit.
  func isToken(_ candidate: Substring) -> Bool {
    constantTimeEquals(Array(candidate.utf8), Array(hash.utf8))
  }
}

/// The credential and the session signing key, replaced as a whole when comfy-init sends new ones
/// (a password rotation): every reader sees the old pair or the new one, never a mix.
public final class CredentialStore: Sendable {
  public struct Current: Sendable {
    public var credential: Credential
    /// Signs the session cookies: HMAC(session key file's key, hash), so a new password ends every
    /// session even where the key file stayed.
    var signingKey: [UInt8]
  }

  private let current = Mutex<Current?>(nil)
  /// Bumped at every change: caches of verified credentials compare it instead of the hash.
  private let generation = Atomic<Int>(0)

  public init() {}

  public var value: Current? { current.withLock { $0 } }
  var changeCount: Int { generation.load(ordering: .acquiring) }

  public func install(_ credential: Credential, sessionKey: [UInt8]) {
    let signing = hmacSHA256(key: sessionKey, message: Array(credential.hash.utf8))
    current.withLock { $0 = Current(credential: credential, signingKey: signing) }
    generation.add(1, ordering: .releasing)
  }
}
