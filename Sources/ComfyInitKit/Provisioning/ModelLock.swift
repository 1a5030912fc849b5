// models/.comfy-init/models.lock: what the first download of each file found, enforced on every
// later start. A Hub revision (a branch or a tag) is resolved to a commit once and every file of that
// repository and revision is fetched at that commit; a file's size and SHA-256 are recorded when it
// is first placed, so a file that changes upstream is refused rather than swapped in silently. It
// lives on the models volume: the state folder is a tmpfs in the image, and a lock must outlive a
// rolling update. Several instances share it: changes are read, made and written under a flock.
#if canImport(Glibc)
  import Glibc
#endif

struct ModelLock: Equatable {
  struct File: Equatable {
    var size: Int64
    var sha256: String
    /// The source as a manifest writes it, a Hub file pinned to its commit.
    var source: String
  }

  /// "OWNER/REPO@REVISION" → commit.
  var revisions: [String: String] = [:]
  /// DEST → what was placed there.
  var files: [String: File] = [:]

  static let header = """
    # models.lock: written by comfy-init on the models volume; do not edit by hand.
    # `revision KEY COMMIT`: a branch or tag resolved once; `file DEST SIZE SHA256 SOURCE`: what was placed.
    # `comfy-init models lock MANIFEST` prints the manifest pinned to these, to commit beside it.

    """

  /// The lock as written, and the lines that did not parse (ignored, so that the next write drops them).
  static func parse(_ text: String) -> (lock: ModelLock, garbage: Int) {
    var lock = ModelLock()
    var garbage = 0
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(separator: " ").map(String.init)
      if fields.count == 3, fields[0] == "revision", isCommit(fields[2]) {
        lock.revisions[fields[1]] = fields[2]
      } else if fields.count == 5, fields[0] == "file", let size = Int(fields[2]), size >= 0, isSHA256(fields[3]) {
        lock.files[fields[1]] = File(size: Int64(size), sha256: fields[3], source: fields[4])
      } else if !line.allSatisfy({ $0 == " " }) {
        garbage += 1
      }
    }
    return (lock, garbage)
  }

  var text: String {
    var out = ModelLock.header
    for key in revisions.keys.sorted() { out += "revision \(key) \(revisions[key]!)\n" }
    for dest in files.keys.sorted() {
      let file = files[dest]!
      out += "file \(dest) \(file.size) \(file.sha256) \(file.source)\n"
    }
    return out
  }

  /// The lock on disk (an empty one when there is none); garbage is reported, never fatal.
  static func read(_ path: String) -> ModelLock {
    guard let text = FileSystem.readState(path, limit: 4 << 20) else { return ModelLock() }
    let (lock, garbage) = parse(text)
    if garbage > 0 {
      Log.warn("models: \(path): \(garbage) line(s) do not parse and are ignored; the next download rewrites it")
    }
    return lock
  }

  /// Reads, changes and writes the lock under an flock on a file beside it, so that two instances
  /// provisioning one volume never lose each other's lines. Best effort: a read-only volume keeps
  /// the old lock, and the next start resolves again.
  static func update(_ path: String, _ change: (inout ModelLock) -> Void) {
    let guardPath = path + ".flock"
    do { try FileSystem.makeDirectories(FileSystem.parent(of: path)) } catch {
      Log.warn("models: cannot record \(path) (\(error)); the next start resolves again")
      return
    }
    let fd = open(guardPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
    if fd >= 0 {
      while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    }
    defer { if fd >= 0 { close(fd) } }
    var lock = read(path)
    let before = lock
    change(&lock)
    guard lock != before else { return }
    do { try FileSystem.writeAtomically(path, lock.text) } catch {
      Log.warn("models: cannot record \(path) (\(error)); the next start resolves again")
    }
  }

  /// The expectation for `entry`: the locked file when its source is still the manifest's (a line
  /// pointed at a new source starts a new lock), else nil.
  func file(for entry: ModelEntry) -> File? {
    guard let file = files[entry.dest], file.source == pinnedText(entry.source) else { return nil }
    return file
  }

  /// The manifest's source with a locked revision resolved: what `file(for:)` compares.
  func pinnedText(_ source: ModelSource) -> String {
    if case .hub(let hub) = source, let commit = revisions[hub.revisionKey] { return source.text(commit: commit) }
    return source.text()
  }

  static func isCommit(_ text: String) -> Bool {
    (7...64).contains(text.utf8.count) && text.utf8.allSatisfy { isHexDigit($0) }
  }

  static func isSHA256(_ text: String) -> Bool { text.utf8.count == 64 && text.utf8.allSatisfy { isHexDigit($0) } }

  private static func isHexDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...102).contains(byte) }
}
