// SHA-256 and PBKDF2 from libcrypto, which the binary links anyway for libcurl's HTTPS.
import COpenSSL

/// An incremental SHA-256: feed it bytes, then take the digest once. libcrypto's plain SHA-256
/// (see shim.h): the EVP interface would initialise all of OpenSSL at the first hash.
public final class SHA256 {
  private let context = UnsafeMutablePointer<SHA256_CTX>.allocate(capacity: 1)

  public init() { SHA256_Init(context) }

  deinit { context.deallocate() }

  public func update(_ buffer: UnsafeRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    SHA256_Update(context, base, buffer.count)
  }

  public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

  public func update(_ string: String) { update(Array(string.utf8)) }

  /// Feeds a length-prefixed field, so that ("ab","c") and ("a","bc") never hash alike.
  public func updateField(_ string: String) {
    let bytes = Array(string.utf8)
    update(String(bytes.count) + ":")
    update(bytes)
  }

  public func finalize() -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 32)
    SHA256_Final(&digest, context)
    return digest
  }

  public static func hash(_ bytes: [UInt8]) -> [UInt8] {
    let hasher = SHA256()
    hasher.update(bytes)
    return hasher.finalize()
  }

  public static func hexHash(_ string: String) -> String { hex(hash(Array(string.utf8))) }
}

/// PBKDF2-HMAC-SHA256: a deliberately slow-ish keyed digest for values derived from a password.
public func pbkdf2SHA256(password: String, salt: String, iterations: Int32) -> [UInt8] {
  var output = [UInt8](repeating: 0, count: 32)
  let pass = Array(password.utf8)
  let saltBytes = Array(salt.utf8)
  PKCS5_PBKDF2_HMAC(
    pass.map { CChar(bitPattern: $0) }, Int32(pass.count), saltBytes, Int32(saltBytes.count),
    iterations, EVP_sha256(), 32, &output)
  return output
}

/// HMAC-SHA256 (RFC 2104) on the plain SHA-256 above: the gate signs its session cookies and keys its
/// cache of verified credentials with it.
public func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
  let blockSize = 64
  var block = key.count > blockSize ? SHA256.hash(key) : key
  block += [UInt8](repeating: 0, count: blockSize - block.count)
  let inner = SHA256()
  inner.update(block.map { $0 ^ 0x36 })
  inner.update(message)
  let outer = SHA256()
  outer.update(block.map { $0 ^ 0x5c })
  outer.update(inner.finalize())
  return outer.finalize()
}

/// Lower-case hexadecimal.
public func hex(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef".utf8)
  var out = [UInt8]()
  out.reserveCapacity(bytes.count * 2)
  for byte in bytes {
    out.append(digits[Int(byte >> 4)])
    out.append(digits[Int(byte & 0xf)])
  }
  return String(decoding: out, as: UTF8.self)
}

/// The bytes of a hexadecimal text (either case), nil when it is not one.
public func bytes(fromHex text: some StringProtocol) -> [UInt8]? {
  func value(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
  }
  let digits = Array(text.utf8)
  guard digits.count % 2 == 0 else { return nil }
  var out: [UInt8] = []
  out.reserveCapacity(digits.count / 2)
  var i = 0
  while i < digits.count {
    guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
    out.append(high << 4 | low)
    i += 2
  }
  return out
}

/// Compares without an early exit, so timing does not reveal where two secrets differ.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
  guard a.count == b.count else { return false }
  var diff: UInt8 = 0
  for i in 0..<a.count { diff |= a[i] ^ b[i] }
  return diff == 0
}
