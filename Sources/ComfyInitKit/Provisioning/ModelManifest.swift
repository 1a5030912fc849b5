// COMFYUI_MODELS_MANIFEST: one model per line, `SOURCE DEST [SHA256]`, white-space separated, `#`
// starts a comment. SOURCE is an https URL, hf://OWNER/REPO[@REVISION]/PATH or civitai://ID (see
// ModelSource); without a SHA256 (or with '-') the lock file pins the one the Hub or the first
// download gave. Parsing is pure and checks everything a line can get wrong before any byte is fetched.
#if canImport(Glibc)
  import Glibc
#endif

public struct ModelEntry: Equatable, Sendable {
  public var source: ModelSource
  /// Relative to ComfyUI/models, normalised ("a/./b" is "a/b"), never absolute, never with "..".
  public var dest: String
  /// Lower-case hex; nil when the line gives none (the lock file's then, once there is one).
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
      guard fields.count == 2 || fields.count == 3 else {
        throw fail("expected `SOURCE DEST [SHA256]`, found \(fields.count) field(s); one file per line")
      }
      let (parsed, why) = ModelSource.parse(String(fields[0]))
      guard let source = parsed else { throw fail(why) }
      guard let dest = normalizedDest(String(fields[1])) else {
        throw fail(
          "DEST '\(fields[1])' leaves ComfyUI/models; give a relative path inside it, e.g. checkpoints/model.safetensors"
        )
      }
      if dest == ".comfy-init" || dest.hasPrefix(".comfy-init/") {
        throw fail("DEST '\(dest)' is inside models/.comfy-init, where comfy-init keeps its lock and stamps; change it")
      }
      if dest.hasSuffix(".partial") || dest.hasSuffix(".partial.parts") {
        throw fail("DEST '\(dest)' ends in .partial, the suffix of unfinished downloads; rename it")
      }
      var sha: String? = nil
      if fields.count == 3, fields[2] != "-" {
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
      entries.append(ModelEntry(source: source, dest: dest, sha256: sha, line: number))
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

extension ModelEntry {
  /// A DEST read back from a file on the volume (a stamp) is used only if a manifest could have said it.
  static func isSafeDest(_ dest: String) -> Bool {
    ModelManifest.normalizedDest(dest) == dest && !dest.hasPrefix(".comfy-init/") && !dest.hasSuffix(".partial")
  }
}
