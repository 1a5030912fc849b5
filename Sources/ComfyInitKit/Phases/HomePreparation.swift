// What the home, the state folder and the children's environment need before the phases and the
// server run: folders made and writable, the image's login link's target, a writable HOME and
// temporary folder for the children, and the server's run-time places.
#if canImport(Glibc)
  import Glibc
#endif

extension Bootstrap {
  static func prepareHome(_ config: Config) throws(InitError) {
    let layout = config.layout
    do { try FileSystem.makeDirectories(config.home) } catch {
      throw storageError(config, errno: error.errnoValue)
        ?? InitError(
          .filesystem,
          "COMFYUI_HOME=\(config.home) is not usable (\(error)); mount a writable volume there or run as its owner")
    }
    do { try FileSystem.makeDirectories(layout.stateDir) } catch {
      throw storageError(config, errno: error.errnoValue) ?? notWritable(config)
    }
    guard access(layout.stateDir, W_OK) == 0 else { throw storageError(config, errno: errno) ?? notWritable(config) }
    // Root about to become PUID leaves these to PUID: what root made would not be PUID's.
    if getuid() == 0 && config.owner != nil { return }
    StateSeed.seed(layout)
    prepareLoginLink(layout)
  }

  /// The state folder cannot be written: what to mount or chown, for the user comfy-init runs as.
  private static func notWritable(_ config: Config) -> InitError {
    let layout = config.layout
    let who = "uid \(getuid()) (gid \(getgid()))"
    guard layout.hasSeparateStateDir else {
      // Root can hand the home over; anyone else needs its owner to (or a group it may write as).
      let fix =
        getuid() == 0
        ? "chown it or set PUID/PGID" : "chown it to uid \(getuid()), or make it group-writable for gid \(getgid())"
      return InitError(.filesystem, "COMFYUI_HOME=\(config.home) is not writable by \(who); \(fix)")
    }
    return InitError(
      .filesystem,
      "COMFYUI_STATE_DIR=\(layout.stateDir) is not writable by \(who); mount a writable volume there (a tmpfs or an emptyDir)"
    )
  }

  /// The image links HOME/ComfyUI/login (where ComfyUI-Login reads PASSWORD) into the state folder,
  /// which starts empty on a tmpfs: the link's folder is made before anyone writes or reads through it
  /// (ComfyUI-Login's own os.makedirs would fail on a dangling link). A real login/ folder (a home
  /// from before) is left as it is, and so is its PASSWORD.
  static func prepareLoginLink(_ layout: HomeLayout) {
    var st = stat()
    guard lstat(layout.loginDir, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, !FileSystem.isDirectory(layout.loginDir)
    else { return }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink(layout.loginDir, &buffer, buffer.count - 1)
    guard n > 0 else { return }
    let target = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let absolute = target.hasPrefix("/") ? target : FileSystem.parent(of: layout.loginDir) + "/" + target
    try? FileSystem.makeDirectories(absolute, mode: 0o700)
  }

  /// Children need a HOME and a temporary folder they can write. HOME: pip's cache, git's config,
  /// Python libraries' caches; after the PUID drop root's is not PUID's, and a uid without a passwd
  /// entry (`--user 12345:0`) gets "/". COMFYUI_HOME serves when writable, else a folder in the state
  /// folder (a read-only root); no /etc/passwd entry is needed. The temporary folder: Python's
  /// tempfile (torch calls it while ComfyUI imports it) tries TMPDIR, TEMP, TMP, /tmp, /var/tmp,
  /// /usr/tmp and the current folder, and raises when none is writable: on a read-only root without a
  /// /tmp mount the real server died at its start. TMPDIR then names a folder in the state folder.
  static func giveChildrenWritablePlaces(_ config: inout Config) {
    if access(config.childHome ?? "/", W_OK) != 0 {
      if access(config.home, W_OK) == 0 {
        config.childHome = config.home
      } else if (try? FileSystem.makeDirectories(config.layout.fallbackUserHome, mode: 0o700)) != nil {
        config.childHome = config.layout.fallbackUserHome
      }
    }
    if access(config.childTempDir, W_OK) != 0,
      (try? FileSystem.makeDirectories(config.layout.fallbackTempDir, mode: 0o700)) != nil
    {
      config.setChildTempDir(config.layout.fallbackTempDir)
    }
  }

  /// Before the server starts: each place it writes at run time (HomeLayout.serverWritablePlaces)
  /// must be writable. ComfyUI does not check: it starts on a read-only temp/ (its cleanup ignores
  /// errors) and fails at the first preview or upload, a traceback per request. One line at the start
  /// says which mount is missing instead. A place moved with its flag (COMFYUI_ARGS) is the user's.
  static func requireServerPlaces(_ config: Config, extraArgs: [String]) throws(InitError) {
    let args = config.serverArgs + extraArgs
    for place in config.layout.serverWritablePlaces where ServerFlags.value(of: place.flag, in: args) == nil {
      // The place itself, or (not made yet) the folder it will be made in.
      let existing = FileSystem.exists(place.path) ? place.path : FileSystem.parent(of: place.path)
      guard access(existing, W_OK) != 0 else { continue }
      let why = errno == EROFS ? "is on a read-only filesystem" : "is not writable by uid \(getuid()) (gid \(getgid()))"
      throw InitError(
        .filesystem,
        "ComfyUI writes to \(place.path), which \(why); mount a writable volume there (a tmpfs or an emptyDir for temp/)"
      )
    }
  }
}
