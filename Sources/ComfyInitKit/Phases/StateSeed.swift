// A state folder outside the home (COMFYUI_STATE_DIR, the image's tmpfs or emptyDir) starts empty at
// every container start, and a home from an older version keeps its state in HOME/.comfy-init. The
// new folder takes over what is still there (HomeLayout.seededState): each stamp is checked against
// what it describes before it is trusted (a commit, a file's inode and mtime), so a copy of a stale
// one only costs the work it would have saved. The image build leaves its stamps there too, which is
// why a read-only container's warm start runs no git.
#if canImport(Glibc)
  import Glibc
#endif

enum StateSeed {
  /// Copies each seeded file that the state folder lacks; best effort (a stamp not copied is work
  /// redone, never a wrong answer). Returns how many files were copied.
  @discardableResult
  static func seed(_ layout: HomeLayout) -> Int {
    guard layout.hasSeparateStateDir, FileSystem.isDirectory(layout.legacyStateDir) else { return 0 }
    var copied = 0
    for name in HomeLayout.seededState {
      copied += copy(layout.legacyStateDir + "/" + name, to: layout.stateDir + "/" + name)
    }
    if copied > 0 { Log.info("state: took over \(copied) stamps from \(layout.legacyStateDir)") }
    return copied
  }

  /// A file, or a folder's files one level deep (nodes/, models/), where the target has none.
  private static func copy(_ from: String, to: String) -> Int {
    if FileSystem.isDirectory(from) {
      var copied = 0
      for name in FileSystem.list(from) where !name.hasPrefix(".") {
        copied += copy(from + "/" + name, to: to + "/" + name)
      }
      return copied
    }
    var st = stat()
    guard lstat(to, &st) != 0, stat(from, &st) == 0, let text = FileSystem.readState(from) else { return 0 }
    do {
      try FileSystem.makeDirectories(FileSystem.parent(of: to))
      // The source's mode (the auth stamp is 0600); not durable: the folder is rebuilt at each start.
      try FileSystem.writeAtomically(to, text, mode: st.st_mode & 0o666, durable: false)
      return 1
    } catch {
      return 0
    }
  }
}
