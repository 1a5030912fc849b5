// A verified model is not hashed again on the next start (20 GB take a minute to read): a stamp in
// COMFYUI_HOME/.comfy-init/models remembers the hash for that path, size, mtime and inode, so any
// change to the file, or to the expected hash, makes it check again.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct VerifyStamp {
  let dir: String

  private func stampPath(_ path: String) -> String { dir + "/" + SHA256.hexHash(path) }

  private static func line(_ path: String, _ sha: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return "\(path) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino) \(sha)\n"
  }

  func matches(_ path: String, sha: String) -> Bool {
    guard let expected = VerifyStamp.line(path, sha) else { return false }
    return FileSystem.readState(stampPath(path)) == expected
  }

  /// Best effort: without a stamp the next start only costs a re-hash.
  func record(_ path: String, sha: String) {
    guard let text = VerifyStamp.line(path, sha) else { return }
    do {
      try FileSystem.makeDirectories(dir)
      try FileSystem.writeAtomically(stampPath(path), text)
    } catch {
      Log.warn("models: cannot record the check of \(path) (\(error)); the next start hashes it again")
    }
  }
}
