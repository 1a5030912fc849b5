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

/// Compares without an early exit, so timing does not reveal where two secrets differ.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
  guard a.count == b.count else { return false }
  var diff: UInt8 = 0
  for i in 0..<a.count { diff |= a[i] ^ b[i] }
  return diff == 0
}
