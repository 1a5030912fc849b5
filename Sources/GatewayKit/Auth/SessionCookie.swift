// The gate's own browser session: a signed, expiring cookie, nothing stored server-side. The signing
// key is derived from the password hash (CredentialStore), so a rotation ends every session at once.
import CGateway
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct SessionCookie {
  static let name = "comfy_gate_session"
  /// "v1.EXPIRY.NONCE.SIGNATURE": the expiry in Unix seconds, 16 random bytes, HMAC-SHA256 of the rest.
  private static let version = "v1"

  /// A new session value, valid for `maxAge` seconds from now.
  static func issue(signingKey: [UInt8], maxAge: Int, now: Int = SessionCookie.now()) -> String {
    let body = "\(version).\(now + maxAge).\(hex(randomBytes(16)))"
    return body + "." + hex(hmacSHA256(key: signingKey, message: Array(body.utf8)))
  }

  /// True when `value` was signed with `signingKey` and has not expired.
  static func isValid(_ value: Substring, signingKey: [UInt8], now: Int = SessionCookie.now()) -> Bool {
    let parts = value.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == version, let expiry = Int(parts[1]), expiry > now,
      parts[2].utf8.count == 32
    else { return false }
    let body = parts[0...2].joined(separator: ".")
    let expected = hex(hmacSHA256(key: signingKey, message: Array(body.utf8)))
    return constantTimeEquals(Array(expected.utf8), Array(parts[3].utf8))
  }

  /// The Set-Cookie value: HttpOnly (no script reads it), SameSite=Lax (another site's form or
  /// WebSocket does not carry it), Secure when the client reached the gate over TLS.
  static func setCookie(_ value: String, maxAge: Int, secure: Bool) -> String {
    "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
  }

  static func expiredCookie(secure: Bool) -> String {
    "\(name)=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "")
  }

  /// Our cookie's value among the request's Cookie headers, if any.
  static func value(inCookieHeaders headers: [String]) -> Substring? {
    for header in headers {
      for pair in header.split(separator: ";") {
        let trimmed = pair.drop(while: { $0 == " " })
        if trimmed.hasPrefix(name + "=") { return trimmed.dropFirst(name.count + 1) }
      }
    }
    return nil
  }

  /// The Cookie header without ours: ComfyUI and its nodes never see the gate's session.
  static func withoutOurs(_ header: String) -> String? {
    let kept = header.split(separator: ";").filter { !$0.drop(while: { $0 == " " }).hasPrefix(name + "=") }
    guard !kept.isEmpty else { return nil }
    return kept.map { $0.drop(while: { $0 == " " }) }.joined(separator: "; ")
  }

  static func now() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return spec.tv_sec
  }
}

/// Bytes from the kernel's random source.
func randomBytes(_ count: Int) -> [UInt8] {
  var bytes = [UInt8](repeating: 0, count: count)
  var filled = 0
  while filled < count {
    let n = bytes.withUnsafeMutableBytes { cgateway_random($0.baseAddress! + filled, UInt(count - filled)) }
    if n > 0 { filled += n } else if errno != EINTR { fatalError("getrandom failed: errno \(errno)") }
  }
  return bytes
}
