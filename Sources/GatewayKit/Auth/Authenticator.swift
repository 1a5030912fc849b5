// Who is asking: the one decision every request (HTTP or a WebSocket upgrade) goes through.
// Credentials, strongest first: an Authorization header (Bearer TOKEN as ComfyUI-Login takes it, or
// HTTP Basic with the user name and password as third-party clients send it), `?token=`, the gate's
// session cookie. A credential that is present but wrong is refused outright, never passed over for
// a weaker one.
import Bcrypt
import Digest
import Foundation
import NIOPosix

enum Verdict: Sendable, Equatable {
  /// A valid credential.
  case user
  /// No credential at all.
  case anonymous
  /// An Authorization header the gate cannot read (ComfyUI-Login answers 500 to some of these).
  case malformed
  /// A credential that does not match.
  case wrong
  /// Too many password attempts from this client: retry after this many seconds.
  case throttled(Int)
  /// Every bcrypt slot is busy: retry shortly.
  case busy
}

struct Authenticator: Sendable {
  let store: CredentialStore
  let throttle: LoginThrottle
  let verified: VerifiedCache

  /// The verdict for a request's Authorization headers, `token` query value and Cookie headers.
  func verdict(authorization: [String], queryToken: String?, cookies: [String], client: String) async -> Verdict {
    guard let current = store.value else { return .anonymous }
    if !authorization.isEmpty {
      guard authorization.count == 1 else { return .malformed }
      return await headerVerdict(authorization[0], current: current, client: client)
    }
    if let queryToken {
      return current.credential.isToken(queryToken[...]) ? .user : .wrong
    }
    if let session = SessionCookie.value(inCookieHeaders: cookies),
      SessionCookie.isValid(session, signingKey: current.signingKey)
    {
      return .user
    }
    // A stale cookie (expired, or signed before a password rotation) is no credential: log in again.
    return .anonymous
  }

  private func headerVerdict(_ header: String, current: CredentialStore.Current, client: String) async -> Verdict {
    let words = header.split(whereSeparator: { $0 == " " || $0 == "\t" })
    guard words.count == 2 else { return .malformed }
    switch words[0].lowercased() {
    case "bearer":
      return current.credential.isToken(words[1]) ? .user : .wrong
    case "basic":
      guard let decoded = Data(base64Encoded: String(words[1])), let text = String(data: decoded, encoding: .utf8),
        let colon = text.firstIndex(of: ":")
      else { return .malformed }
      return await passwordVerdict(
        user: String(text[..<colon]), password: String(text[text.index(after: colon)...]), client: client)
    default:
      return .malformed
    }
  }

  /// Checks a user name and password: from the cache of verified ones, else with bcrypt (throttled per
  /// client, bounded in number).
  func passwordVerdict(user: String, password: String, client: String) async -> Verdict {
    guard let current = store.value else { return .anonymous }
    let generation = store.changeCount
    // A client that has guessed wrong too often gets no answer at all, not even from the cache of
    // verified passwords: otherwise its guesses would stay free once the right one had been used.
    if let wait = throttle.waitFor(client) { return .throttled(wait) }
    guard constantTimeEquals(Array(user.utf8), Array(current.credential.user.utf8)), password.utf8.count <= 72 else {
      throttle.recordFailure(for: client)
      return .wrong
    }
    if verified.contains(user: user, password: password, generation: generation) { return .user }
    let hash = current.credential.hash
    let matched = await throttle.withSlot {
      try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password: password, hash: hash) }
    }
    guard let matched else { return .busy }
    guard matched == true else {
      throttle.recordFailure(for: client)
      return .wrong
    }
    verified.insert(user: user, password: password, generation: generation)
    return .user
  }
}
