// A `.env` file as Docker Compose reads it, edited in place: keys are updated where they stand, never
// duplicated, and every other line (comments, blank lines, unrelated keys, lines we cannot parse) is
// kept byte for byte.
import Foundation

public struct EnvFile: Sendable, Equatable {
  public struct Entry: Sendable, Equatable {
    public var key: String
    /// The value as Compose reads it, quotes and escapes removed (`$` interpolation is not performed).
    public var value: String
    /// The line(s) exactly as in the file, without the final newline.
    public var raw: String
  }

  public enum Line: Sendable, Equatable {
    case entry(Entry)
    /// Blank lines, comments and anything that is not `KEY=VALUE`: kept verbatim.
    case text(String)
  }

  public var lines: [Line]

  public init(lines: [Line] = []) {
    self.lines = lines
  }

  /// Parses a file's text. Never fails: what is not an assignment is kept as text.
  public init(text: String) {
    var physical = text.components(separatedBy: "\n")
    if physical.last == "" { physical.removeLast() }
    var result: [Line] = []
    var index = 0
    while index < physical.count {
      if let (entry, used) = EnvFile.parseEntry(physical, at: index) {
        result.append(.entry(entry))
        index += used
      } else {
        result.append(.text(physical[index]))
        index += 1
      }
    }
    lines = result
  }

  /// The file at `path`, or an empty one when there is none.
  public static func load(_ path: String) throws(CtlError) -> EnvFile {
    guard let text = try FileOps.readIfPresent(path) else { return EnvFile() }
    return EnvFile(text: text)
  }

  /// Writes through symlinks. A new file is 0600 because it may hold tokens; an existing one keeps its
  /// mode, less group and other bits when it holds a secret (a .env made with umask 022 is 0644).
  public func save(_ path: String) throws(CtlError) {
    let mode = holdsSecret ? FileOps.privateMode(of: path) : FileOps.status(path)?.mode ?? 0o600
    try FileOps.writeAtomically(path, text, mode: mode)
  }

  /// Some secret key has a value.
  public var holdsSecret: Bool {
    entries.contains { SecretKey.isSecret($0.key) && !$0.value.isEmpty }
  }

  public var text: String {
    lines.map {
      switch $0 {
      case .entry(let entry): return entry.raw
      case .text(let text): return text
      }
    }.map { $0 + "\n" }.joined()
  }

  public var entries: [Entry] {
    lines.compactMap {
      if case .entry(let entry) = $0 { return entry }
      return nil
    }
  }

  /// Keys in the order of their first appearance.
  public var keys: [String] {
    var seen = Set<String>()
    return entries.map(\.key).filter { seen.insert($0).inserted }
  }

  /// The value Compose uses: the last assignment wins.
  public func value(_ key: String) -> String? {
    entries.last { $0.key == key }?.value
  }

  /// The entry whose value Compose uses.
  public func entry(_ key: String) -> Entry? {
    entries.last { $0.key == key }
  }

  public var duplicateKeys: [String] {
    var counts: [String: Int] = [:]
    for entry in entries { counts[entry.key, default: 0] += 1 }
    return keys.filter { counts[$0]! > 1 }
  }

  /// Sets `key` where it first appears (later duplicates are removed), or appends it.
  public mutating func set(_ key: String, _ value: String) {
    let raw = key + "=" + EnvFile.quote(value)
    setRaw(Entry(key: key, value: value, raw: raw))
  }

  /// Like `set`, with the line as given (consolidate moves lines verbatim).
  public mutating func setRaw(_ entry: Entry) {
    var replaced = false
    var result: [Line] = []
    for line in lines {
      if case .entry(let existing) = line, existing.key == entry.key {
        if replaced { continue }
        replaced = true
        var kept = entry
        // `export KEY=...` stays an export.
        if existing.raw.trimmingCharacters(in: .whitespaces).hasPrefix("export ") && !kept.raw.hasPrefix("export ") {
          kept.raw = "export " + kept.raw
        }
        result.append(.entry(kept))
      } else {
        result.append(line)
      }
    }
    if !replaced { result.append(.entry(entry)) }
    lines = result
  }

  /// Removes every assignment of `key` (and nothing else).
  public mutating func remove(_ key: String) {
    lines.removeAll {
      if case .entry(let entry) = $0 { return entry.key == key }
      return false
    }
  }

  /// Appends comment or blank lines.
  public mutating func appendText(_ text: [String]) {
    lines += text.map { .text($0) }
  }

  /// The comment lines directly above the first assignment of `key` (consolidate carries them along).
  public func comments(above key: String) -> [String] {
    guard
      let index = lines.firstIndex(where: { if case .entry(let e) = $0 { return e.key == key } else { return false } })
    else { return [] }
    var result: [String] = []
    var i = index - 1
    while i >= 0, case .text(let text) = lines[i], text.trimmingCharacters(in: .whitespaces).hasPrefix("#") {
      result.insert(text, at: 0)
      i -= 1
    }
    return result
  }

  /// Quotes a value so that Compose reads it back unchanged: single quotes (nothing inside is
  /// interpolated, so the `$` of a bcrypt hash stays a `$`), or double quotes with escapes when the
  /// value itself holds a single quote or a line break.
  public static func quote(_ value: String) -> String {
    if !value.contains("'") && !value.contains("\n") && !value.contains("\r") { return "'" + value + "'" }
    var out = "\""
    for character in value {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "$": out += "\\$"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      default: out.append(character)
      }
    }
    return out + "\""
  }

  // MARK: parsing

  static func isKeyStart(_ c: Character) -> Bool { c == "_" || (c.isASCII && c.isLetter) }
  static func isKeyCharacter(_ c: Character) -> Bool {
    c == "_" || c == "." || c == "-" || (c.isASCII && (c.isLetter || c.isNumber))
  }

  /// (entry, physical lines used) when line `index` starts an assignment.
  static func parseEntry(_ physical: [String], at index: Int) -> (Entry, Int)? {
    let line = physical[index]
    var rest = Substring(line).drop { $0 == " " || $0 == "\t" }
    if rest.hasPrefix("export ") { rest = rest.dropFirst(7).drop { $0 == " " || $0 == "\t" } }
    guard let first = rest.first, isKeyStart(first) else { return nil }
    let key = String(rest.prefix { isKeyCharacter($0) })
    rest = rest.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }
    guard rest.first == "=" else { return nil }
    rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }

    guard let quote = rest.first, quote == "'" || quote == "\"" else {
      // Unquoted: up to an inline comment (" #"), trailing blanks trimmed.
      var value = String(rest)
      if value.hasPrefix("#") {
        value = ""
      } else if let hash = value.range(of: " #") ?? value.range(of: "\t#") {
        value = String(value[..<hash.lowerBound])
      }
      return (Entry(key: key, value: value.trimmingCharacters(in: .whitespacesAndNewlines), raw: line), 1)
    }
    // Quoted: the value may run over several lines until the closing quote.
    var text = String(rest.dropFirst())
    var used = 1
    while true {
      if let end = closingQuote(in: text, quote: quote) {
        let inner = String(text[..<end])
        let value = quote == "'" ? inner : unescapeDoubleQuoted(inner)
        let raw = physical[index..<(index + used)].joined(separator: "\n")
        return (Entry(key: key, value: value, raw: raw), used)
      }
      guard index + used < physical.count else { return nil }  // never closed: keep the lines as text
      text += "\n" + physical[index + used]
      used += 1
    }
  }

  static func closingQuote(in text: String, quote: Character) -> String.Index? {
    var i = text.startIndex
    while i < text.endIndex {
      let c = text[i]
      if quote == "\"" && c == "\\" {
        i = text.index(after: i)
        if i < text.endIndex { i = text.index(after: i) }
        continue
      }
      if c == quote { return i }
      i = text.index(after: i)
    }
    return nil
  }

  static func unescapeDoubleQuoted(_ text: String) -> String {
    var out = ""
    var escaped = false
    for c in text {
      if escaped {
        switch c {
        case "n": out += "\n"
        case "r": out += "\r"
        case "t": out += "\t"
        case "\\", "\"", "$": out.append(c)
        default: out += "\\" + String(c)
        }
        escaped = false
      } else if c == "\\" {
        escaped = true
      } else {
        out.append(c)
      }
    }
    if escaped { out += "\\" }
    return out
  }
}
