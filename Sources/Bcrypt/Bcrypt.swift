// bcrypt through libxcrypt: the same "$2b$" hashes Python's bcrypt makes and ComfyUI-Login checks.
import CCrypt
import Digest

#if canImport(Glibc)
  import Glibc
#endif

public enum Bcrypt {
  public enum Failure: Error, CustomStringConvertible {
    case costOutOfRange(Int)
    case saltGenerationFailed(Int32)
    case hashingFailed(Int32)

    public var description: String {
      switch self {
      case .costOutOfRange(let cost): return "bcrypt cost \(cost) is outside 4...31"
      case .saltGenerationFailed(let err): return "could not make a bcrypt salt (errno \(err))"
      case .hashingFailed(let err): return "bcrypt hashing failed (errno \(err))"
      }
    }
  }

  public static let defaultCost = 12

  /// Hashes `password` with a fresh random salt ("$2b$", as Python's bcrypt.gensalt()).
  public static func hash(password: String, cost: Int = defaultCost) throws -> String {
    guard (4...31).contains(cost) else { throw Failure.costOutOfRange(cost) }
    var salt = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
    // A nil random buffer makes libxcrypt read the kernel's random source itself.
    guard crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, &salt, Int32(salt.count)) != nil else {
      throw Failure.saltGenerationFailed(errno)
    }
    let setting = String(decoding: salt.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let result = crypt(password: password, setting: setting), isWellFormed(result) else {
      throw Failure.hashingFailed(errno)
    }
    return result
  }

  /// True when `hash` is a bcrypt hash of `password`.
  public static func verify(password: String, hash: String) -> Bool {
    guard isWellFormed(hash), let again = crypt(password: password, setting: hash) else { return false }
    return constantTimeEquals(Array(again.utf8), Array(hash.utf8))
  }

  /// "$2a$", "$2b$" or "$2y$", a two-digit cost, then 53 characters of bcrypt's base64: 60 in all.
  public static func isWellFormed(_ hash: String) -> Bool {
    let bytes = Array(hash.utf8)
    guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
      [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
      bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$")
    else { return false }
    guard let cost = Int(String(decoding: bytes[4...5], as: UTF8.self)), (4...31).contains(cost) else {
      return false
    }
    return bytes[7...].allSatisfy(isBcryptBase64)
  }

  /// The cost factor of a well-formed hash.
  public static func cost(of hash: String) -> Int? {
    guard isWellFormed(hash) else { return nil }
    return Int(String(hash.utf8.dropFirst(4).prefix(2))!)
  }

  private static func isBcryptBase64(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
      || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "/")
  }

  private static func crypt(password: String, setting: String) -> String? {
    // struct crypt_data is about 32 KB: keep it off the stack.
    let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
    defer {
      memset(data, 0, MemoryLayout<crypt_data>.size)  // the password was in there
      data.deallocate()
    }
    memset(data, 0, MemoryLayout<crypt_data>.size)
    let size = Int32(MemoryLayout<crypt_data>.size)
    guard let out = crypt_rn(password, setting, UnsafeMutableRawPointer(data), size) else { return nil }
    let result = String(cString: out)
    // libxcrypt signals failure with a string starting with "*".
    return result.hasPrefix("*") ? nil : result
  }
}
