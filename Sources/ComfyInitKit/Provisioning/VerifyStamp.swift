// A verified model is not hashed again (20 GB take a minute to read): a stamp on the models volume,
// beside the files (models/.comfy-init/verified), remembers the SHA-256 of a DEST together with its
// size, mtime and inode, so any change to the file, or to the expected hash, makes it check again.
// Not the device number: it differs per pod on NFS and CephFS, and a new container or pod must trust
// what another one checked. Stamps from before the move (in the state folder, keyed by the path) are
// taken over when they still match.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct VerifyStamp {
  let dir: String
  /// Where stamps lived before (the state folder), read once per file for the upgrade.
  let legacyDir: String
  /// The models folder, DESTs are relative to it.
  let root: String

  init(_ layout: HomeLayout, root: String) {
    dir = layout.modelStampsDir
    legacyDir = layout.legacyModelStampsDir
    self.root = root
  }

  private func stampPath(_ dest: String) -> String { dir + "/" + SHA256.hexHash(dest) }

  /// "SIZE MTIME INODE": what must not change for a stamp to hold.
  private static func identity(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    return "\(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino)"
  }

  func matches(_ dest: String, sha: String) -> Bool {
    let path = root + "/" + dest
    guard let identity = VerifyStamp.identity(path) else { return false }
    if FileSystem.readState(stampPath(dest)) == "\(dest) \(identity) \(sha)\n" { return true }
    // The upgrade: a stamp of the old layout ("PATH SIZE MTIME INODE SHA", keyed by the path).
    let legacy = legacyDir + "/" + SHA256.hexHash(path)
    guard FileSystem.readState(legacy) == "\(path) \(identity) \(sha)\n" else { return false }
    record(dest, sha: sha)
    return true
  }

  /// Best effort: without a stamp the next start only costs a re-hash.
  func record(_ dest: String, sha: String) {
    guard let identity = VerifyStamp.identity(root + "/" + dest) else { return }
    do {
      try FileSystem.makeDirectories(dir)
      try FileSystem.writeAtomically(stampPath(dest), "\(dest) \(identity) \(sha)\n", durable: false)
    } catch {
      Log.warn("models: cannot record the check of \(dest) (\(error)); the next start hashes it again")
    }
  }

  /// A DEST whose stamp says it holds `sha` and still matches: the same content wanted elsewhere
  /// is linked to it instead of downloaded again.
  func verifiedCopy(of sha: String, except dest: String) -> String? {
    for name in FileSystem.list(dir) where name.rangeOfSubstring(".tmp-") == nil {
      guard let line = FileSystem.readState(dir + "/" + name), line.hasSuffix(" " + sha + "\n"),
        let other = line.split(separator: " ").first.map(String.init), other != dest,
        ModelEntry.isSafeDest(other), matches(other, sha: sha)
      else { continue }
      return other
    }
    return nil
  }
}
