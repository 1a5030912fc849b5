// A request's target as the client sent it ("/path?query"): what the gate routes on, what it forwards
// upstream (without the `token` parameter) and what it logs (with the token's value cut out).

struct RequestTarget: Sendable {
  /// The path exactly as sent, before any decoding.
  let path: Substring
  /// The query without its "?", nil when there is none.
  let query: Substring?

  init(_ raw: String) {
    if let mark = raw.firstIndex(of: "?") {
      path = raw[..<mark]
      query = raw[raw.index(after: mark)...]
    } else {
      path = raw[...]
      query = nil
    }
  }

  /// The query's parameters, split but not decoded.
  private var parameters: [Substring] {
    query.map { $0.split(separator: "&", omittingEmptySubsequences: false) } ?? []
  }

  private static func isToken(_ parameter: Substring) -> Bool {
    parameter == "token" || parameter.hasPrefix("token=")
  }

  /// The value of `token=`, percent-decoded (ComfyUI-Login reads aiohttp's decoded query).
  var token: String? {
    guard let parameter = parameters.last(where: RequestTarget.isToken) else { return nil }
    let value = parameter.dropFirst("token".count).drop(while: { $0 == "=" })
    return RequestTarget.percentDecoded(value, plusIsSpace: true)
  }

  /// What goes upstream: the same target without any `token` parameter (the gate sends its own credential).
  var upstream: String {
    guard query != nil else { return String(path) }
    let kept = parameters.filter { !RequestTarget.isToken($0) }
    return kept.isEmpty ? String(path) : String(path) + "?" + kept.joined(separator: "&")
  }

  /// What may be logged: the target with every token's value replaced.
  var redacted: String {
    guard query != nil else { return String(path) }
    let shown = parameters.map { RequestTarget.isToken($0) ? "token=REDACTED" : String($0) }
    return String(path) + "?" + shown.joined(separator: "&")
  }

  /// The path with percent escapes decoded once, nil when an escape is broken or decodes to a
  /// character routes never hold (a slash, a backslash, a NUL): such a path is never on an allow-list.
  var plainPath: String? {
    guard let decoded = RequestTarget.percentDecoded(path, plusIsSpace: false) else { return nil }
    if decoded.contains("\\") || decoded.contains("\0") { return nil }
    if path.contains("%2F") || path.contains("%2f") { return nil }
    return decoded
  }

  /// Decodes %XX escapes; in a query (form encoding) "+" is a space too, in a path it is itself.
  static func percentDecoded(_ text: Substring, plusIsSpace: Bool) -> String? {
    var bytes: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
      if plusIsSpace && byte == UInt8(ascii: "+") {
        bytes.append(UInt8(ascii: " "))
      } else if byte == UInt8(ascii: "%") {
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
          return nil
        }
        bytes.append(high << 4 | low)
      } else {
        bytes.append(byte)
      }
    }
    return String(validating: bytes, as: UTF8.self)
  }

  private static func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
  }
}
