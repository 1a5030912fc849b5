// COMFYUI_MODELS_MANIFEST: one model per line, `URL DEST SHA256`, white-space separated, `#` starts
// a comment. Parsing is pure and checks everything a line can get wrong before any byte is fetched.
#if canImport(Glibc)
  import Glibc
#endif

public struct ModelEntry: Equatable, Sendable {
  public var url: String
  /// Relative to ComfyUI/models, normalised ("a/./b" is "a/b"), never absolute, never with "..".
  public var dest: String
  /// Lower-case hex; nil for the literal "-" (no check, a warning at provisioning time).
  public var sha256: String?
  public var line: Int
}

public enum ModelManifest {
  public static func load(_ path: String) throws(InitError) -> [ModelEntry] {
    guard let text = FileSystem.readText(path) else {
      throw InitError(
        .models,
        "COMFYUI_MODELS_MANIFEST=\(path) cannot be read (\(String(cString: strerror(errno)))); mount the manifest there or fix the path"
      )
    }
    return try parse(text, source: path)
  }

  public static func parse(_ text: String, source: String) throws(InitError) -> [ModelEntry] {
    var entries: [ModelEntry] = []
    var number = 0
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      number += 1
      // A '#' opens a comment only at the start of a field: URLs may carry '#' fragments.
      var fields: [Substring] = []
      for field in raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
        if field.hasPrefix("#") { break }
        fields.append(field)
      }
      if fields.isEmpty { continue }
      func fail(_ why: String) -> InitError { InitError(.models, "\(source):\(number): \(why)") }
      guard fields.count == 3 else {
        throw fail("expected `URL DEST SHA256`, found \(fields.count) field(s); use '-' for an unknown SHA256")
      }
      let url = String(fields[0])
      guard url.hasPrefix("https://") || url.hasPrefix("http://"), URLParts(url) != nil else {
        throw fail("'\(redactURL(url))' is not an http(s) URL; give the file's download URL")
      }
      guard let dest = normalizedDest(String(fields[1])) else {
        throw fail(
          "DEST '\(fields[1])' leaves ComfyUI/models; give a relative path inside it, e.g. checkpoints/model.safetensors"
        )
      }
      if dest.hasSuffix(".partial") {
        throw fail("DEST '\(dest)' ends in .partial, the suffix of unfinished downloads; rename it")
      }
      var sha: String? = nil
      if fields[2] != "-" {
        let hash = fields[2].lowercased()
        guard hash.utf8.count == 64, hash.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
          throw fail(
            "'\(fields[2])' is not a SHA-256 (64 hex digits); put the file's sha256 there, or '-' to skip the check")
        }
        sha = hash
      }
      if let twin = entries.first(where: { $0.dest == dest }) {
        throw fail("DEST '\(dest)' is already on line \(twin.line); keep one line per file")
      }
      entries.append(ModelEntry(url: url, dest: dest, sha256: sha, line: number))
    }
    return entries
  }

  /// "a/./b" → "a/b"; nil for absolute paths, "..", a trailing "/" or nothing left.
  static func normalizedDest(_ dest: String) -> String? {
    guard !dest.hasPrefix("/"), !dest.hasSuffix("/") else { return nil }
    var parts: [Substring] = []
    for part in dest.split(separator: "/") where part != "." {
      if part == ".." { return nil }
      parts.append(part)
    }
    return parts.isEmpty ? nil : parts.joined(separator: "/")
  }
}
