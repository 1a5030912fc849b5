// A small JSON reader for the one API answer comfy-init reads (CivitAI's model version): comfy-init
// stays Foundation-free, and this is all of JSON that answer needs. Numbers stay text (sizes in KiB
// come as floats); \u escapes outside the BMP pair up as UTF-16 does.

enum JSON: Equatable {
  case object([(String, JSON)])
  case array([JSON])
  case string(String)
  case number(String)
  case bool(Bool)
  case null

  static func == (a: JSON, b: JSON) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
    case (.array(let x), .array(let y)): return x == y
    case (.string(let x), .string(let y)), (.number(let x), .number(let y)): return x == y
    case (.bool(let x), .bool(let y)): return x == y
    case (.null, .null): return true
    default: return false
    }
  }

  subscript(key: String) -> JSON? {
    guard case .object(let members) = self else { return nil }
    return members.first { $0.0 == key }?.1
  }

  var array: [JSON] {
    if case .array(let items) = self { return items }
    return []
  }

  var string: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  var number: Double? {
    if case .number(let text) = self { return Double(text) }
    return nil
  }

  var bool: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// nil when `bytes` is not one JSON value (with blanks around it).
  static func parse(_ bytes: [UInt8]) -> JSON? {
    var reader = Reader(bytes: bytes)
    guard let value = reader.value(depth: 0) else { return nil }
    reader.skipBlanks()
    return reader.index == bytes.count ? value : nil
  }

  private struct Reader {
    let bytes: [UInt8]
    var index = 0

    mutating func skipBlanks() {
      while index < bytes.count, [32, 9, 10, 13].contains(bytes[index]) { index += 1 }
    }

    mutating func literal(_ word: String) -> Bool {
      let utf8 = Array(word.utf8)
      guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else { return false }
      index += utf8.count
      return true
    }

    mutating func value(depth: Int) -> JSON? {
      // A hostile answer must not overflow the stack.
      guard depth < 64 else { return nil }
      skipBlanks()
      guard index < bytes.count else { return nil }
      switch bytes[index] {
      case UInt8(ascii: "{"):
        index += 1
        var members: [(String, JSON)] = []
        skipBlanks()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
          index += 1
          return .object(members)
        }
        while true {
          skipBlanks()
          guard let key = string() else { return nil }
          skipBlanks()
          guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
          index += 1
          guard let item = value(depth: depth + 1) else { return nil }
          members.append((key, item))
          skipBlanks()
          guard index < bytes.count else { return nil }
          index += 1
          if bytes[index - 1] == UInt8(ascii: "}") { return .object(members) }
          guard bytes[index - 1] == UInt8(ascii: ",") else { return nil }
        }
      case UInt8(ascii: "["):
        index += 1
        var items: [JSON] = []
        skipBlanks()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
          index += 1
          return .array(items)
        }
        while true {
          guard let item = value(depth: depth + 1) else { return nil }
          items.append(item)
          skipBlanks()
          guard index < bytes.count else { return nil }
          index += 1
          if bytes[index - 1] == UInt8(ascii: "]") { return .array(items) }
          guard bytes[index - 1] == UInt8(ascii: ",") else { return nil }
        }
      case UInt8(ascii: "\""):
        return string().map(JSON.string)
      case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
      case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
      case UInt8(ascii: "n"): return literal("null") ? .null : nil
      default:
        let start = index
        while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
        guard index > start else { return nil }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        return Double(text) == nil ? nil : .number(text)
      }
    }

    mutating func string() -> String? {
      guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
      index += 1
      var out: [UInt8] = []
      var pendingHigh: UInt32? = nil
      while index < bytes.count {
        let byte = bytes[index]
        index += 1
        if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
        guard byte == UInt8(ascii: "\\") else {
          out.append(byte)
          continue
        }
        guard index < bytes.count else { return nil }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "r"): out.append(13)
        case UInt8(ascii: "b"): out.append(8)
        case UInt8(ascii: "f"): out.append(12)
        case UInt8(ascii: "u"):
          guard index + 4 <= bytes.count,
            let unit = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
          else { return nil }
          index += 4
          var scalar = unit
          if (0xD800...0xDBFF).contains(unit) {
            pendingHigh = unit
            continue
          }
          if (0xDC00...0xDFFF).contains(unit), let high = pendingHigh {
            scalar = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
          }
          pendingHigh = nil
          out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "?")).utf8))
        default: out.append(escape)
        }
      }
      return nil
    }
  }
}
