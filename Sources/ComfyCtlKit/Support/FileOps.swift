// Small, careful file operations: atomic writes with the final mode from the first byte (a secret is
// never briefly world-readable), writes through symlinks (a linked .env stays linked), and backups
// that never overwrite an earlier backup.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

enum FileOps {
  static func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
  }

  static func isSymlink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
  }

  static func isDirectory(_ path: String) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
  }

  /// (mode bits, owner uid) of the file a path names, following symlinks.
  static func status(_ path: String) -> (mode: mode_t, uid: uid_t, gid: gid_t)? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return (st.st_mode & 0o7777, st.st_uid, st.st_gid)
  }

  /// Group or others may read the file a path names: no place for a secret.
  static func isShared(_ path: String) -> Bool {
    guard let mode = status(path)?.mode else { return false }
    return mode & 0o077 != 0
  }

  /// The mode for a file that holds a secret: its current mode without group and other bits (so
  /// never looser than before), 0600 for a new one.
  static func privateMode(of path: String) -> mode_t {
    (status(path)?.mode ?? 0o600) & 0o600
  }

  static func read(_ path: String) throws(CtlError) -> String {
    do {
      return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw CtlError(.filesystem, "cannot read \(path): \(describe(error)); check that it exists and is readable")
    }
  }

  static func readIfPresent(_ path: String) throws(CtlError) -> String? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    return try read(path)
  }

  /// The file a path finally names (symlinks resolved), so that writing it keeps the links.
  static func resolved(_ path: String) -> String {
    URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  }

  /// Writes `text` to a temporary sibling created with `mode`, fsyncs it, then renames it over `path`.
  /// A symlink at `path` is followed: its target is replaced and the link stays.
  static func writeAtomically(_ path: String, _ text: String, mode: mode_t) throws(CtlError) {
    let target = resolved(path)
    let dir = (target as NSString).deletingLastPathComponent
    let temp = dir + "/.\((target as NSString).lastPathComponent).tmp-\(getpid())"
    let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
    guard fd >= 0 else {
      throw CtlError(.filesystem, "cannot write \(temp): \(errnoText()); check the folder's permissions")
    }
    var ok = fchmod(fd, mode) == 0  // the umask may have narrowed (or not) what open() set
    let bytes = Array(text.utf8)
    var offset = 0
    while ok && offset < bytes.count {
      let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if n <= 0 { ok = false } else { offset += n }
    }
    ok = ok && fsync(fd) == 0
    let why = errnoText()
    close(fd)
    guard ok, rename(temp, target) == 0 else {
      let reason = ok ? errnoText() : why
      unlink(temp)
      throw CtlError(.filesystem, "cannot write \(target): \(reason)")
    }
  }

  static func makeDirectory(_ path: String, mode: mode_t) throws(CtlError) {
    if !isDirectory(path) {
      guard mkdir(path, mode) == 0 || errno == EEXIST else {
        throw CtlError(.filesystem, "cannot create \(path): \(errnoText())")
      }
      // A file (or a dangling link) by that name: chmod would change it and every write below would fail.
      guard isDirectory(path) else { throw CtlError(.filesystem, "\(path) is not a folder; move it away") }
    }
    guard chmod(path, mode) == 0 else { throw CtlError(.filesystem, "cannot set the mode of \(path): \(errnoText())") }
  }

  static func changeOwner(_ path: String, uid: uid_t, gid: gid_t) throws(CtlError) {
    guard chown(path, uid, gid) == 0 else {
      throw CtlError(
        .filesystem, "cannot give \(path) to uid \(uid): \(errnoText()); run comfyctl as root or as uid \(uid)")
    }
  }

  /// Copies `path` (its content, through symlinks) to `path.bak-STAMP`, a name no earlier backup uses,
  /// with the original's mode, made private when the content is a secret.
  @discardableResult
  static func backUp(_ path: String, stamp: String, holdsSecret: Bool) throws(CtlError) -> String {
    var backup = path + ".bak-" + stamp
    var n = 1
    while exists(backup) {
      backup = path + ".bak-" + stamp + "-\(n)"
      n += 1
    }
    let mode = holdsSecret ? privateMode(of: path) : status(path)?.mode ?? 0o600
    try writeAtomically(backup, try read(path), mode: mode)
    return backup
  }

  /// Replaces `path` (a file or a link) with a symlink to `target`, relative when both share a folder tree.
  static func replaceWithSymlink(_ path: String, to target: String) throws(CtlError) {
    let link = relativeLink(from: path, to: target)
    let temp = path + ".link-tmp-\(getpid())"
    unlink(temp)
    guard symlink(link, temp) == 0 else {
      throw CtlError(.filesystem, "cannot create a link at \(temp): \(errnoText())")
    }
    guard rename(temp, path) == 0 else {
      unlink(temp)
      throw CtlError(.filesystem, "cannot replace \(path) with a link: \(errnoText())")
    }
  }

  /// The path of `target` as seen from the folder of `path`.
  static func relativeLink(from path: String, to target: String) -> String {
    let from = URL(fileURLWithPath: absolutePath(path)).deletingLastPathComponent().resolvingSymlinksInPath()
      .pathComponents
    let to = URL(fileURLWithPath: absolutePath(target)).resolvingSymlinksInPath().pathComponents
    var common = 0
    while common < from.count && common < to.count && from[common] == to[common] { common += 1 }
    if common <= 1 { return absolutePath(target) }  // only "/" in common: an absolute link is clearer
    let ups = Array(repeating: "..", count: from.count - common)
    return (ups + to[common...]).joined(separator: "/")
  }

  /// "20260107-120000": sorts by time, safe in file names.
  static func timestamp(_ date: Date = Date()) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    return formatter.string(from: date)
  }

  static func errnoText() -> String { String(cString: strerror(errno)) }

  static func describe(_ error: Error) -> String {
    (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
  }
}
