// String helpers the standard library lacks without Foundation.

/// Hides "user:token@" in URLs before they are logged.
public func redactURL(_ url: String) -> String {
  guard let scheme = url.rangeOfSubstring("://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else {
    return url
  }
  let authority = url[scheme.upperBound..<at]
  if authority.contains("/") { return url }
  return String(url[..<scheme.upperBound]) + "***@" + String(url[url.index(after: at)...])
}

func stripTrailingSlashes(_ path: String) -> String {
  var p = path.trimmingWhitespace()
  while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
  return p
}

extension String {
  func trimmingWhitespace() -> String {
    var s = Substring(self)
    while let f = s.first, f.isWhitespace { s.removeFirst() }
    while let l = s.last, l.isWhitespace { s.removeLast() }
    return String(s)
  }

  /// Without one line end: "\n", "\r\n" or "\r". Swift reads "\r\n" as one Character, so
  /// hasSuffix("\n") misses a Windows line end: the scalars are compared instead.
  func droppingLineEnd() -> String {
    var scalars = Substring(self).unicodeScalars
    if scalars.last == "\n" { scalars.removeLast() }
    if scalars.last == "\r" { scalars.removeLast() }
    return String(scalars)
  }

  /// Without every trailing "\n" and "\r" (scalars, as in droppingLineEnd).
  func droppingLineEnds() -> String {
    var scalars = Substring(self).unicodeScalars
    while scalars.last == "\n" || scalars.last == "\r" { scalars.removeLast() }
    return String(scalars)
  }

  func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }

  /// The first occurrence of `needle`. (The standard library's firstRange(of:) would link the
  /// regex engine, half a megabyte, into the static binary.)
  func rangeOfSubstring(_ needle: String) -> Range<String.Index>? {
    guard !needle.isEmpty else { return nil }
    var start = startIndex
    while start < endIndex {
      if self[start...].hasPrefix(needle) { return start..<index(start, offsetBy: needle.count) }
      start = index(after: start)
    }
    return nil
  }
}
