// PUID/PGID: root hands the home over and becomes PUID for good, before any tool runs.
#if canImport(Glibc)
  import Glibc
#endif

extension Bootstrap {
  /// PUID/PGID, started as root: root makes only what PUID cannot (the home, a venv outside it) and
  /// hands over the trees that belong to someone else (a first start, root-owned volumes of an older
  /// version), safely; then comfy-init itself becomes PUID:PGID without supplementary groups. Git,
  /// pip, PASSWORD, downloads and the server then never run with root's power over paths PUID can
  /// change. Only a tree whose top PUID does not own is walked: a warm restart costs a few fstat().
  public static func dropPrivileges(_ config: Config) throws(InitError) {
    guard let (uid, gid) = config.owner else { return }
    guard getuid() == 0 else {
      if getuid() == uid { return }
      throw InitError(
        .privileges,
        "PUID=\(uid) needs comfy-init to start as root (it runs as uid \(getuid())); drop PUID or start as root")
    }
    try requireStatePathRootOnly(config.layout, uid: uid, gid: gid)
    try prepareHome(config)
    let layout = config.layout
    let home = layout.home
    let venvBase = layout.venv.hasPrefix(home + "/") ? home : FileSystem.parent(of: layout.venv)
    if venvBase != home { try? FileSystem.makeDirectories(layout.venv) }
    // Inner trees first, each as a whole even when it is a volume of its own; the walk of the home
    // then skips them.
    var walked: [String] = []
    let stateBase = layout.hasSeparateStateDir ? FileSystem.parent(of: layout.stateDir) : home
    for (path, base) in [(layout.venv, venvBase), (layout.comfyDir, home), (layout.stateDir, stateBase), (home, home)] {
      let (done, linked) = FileSystem.handOver(path, below: base, uid: uid, gid: gid, skipping: walked)
      if done + linked > 0 {
        walked.append(path)
        Log.info("ownership: \(path) handed to \(uid):\(gid) (\(done) entries, \(linked) hard-linked files left alone)")
      }
    }
    try become(uid: uid, gid: gid)
  }

  /// Root makes a state folder outside the home and hands it over (opening its parent by path): a
  /// folder on the way to that parent that PUID can change (its own, or one it may write to) would let
  /// PUID swap what follows for a link, and root would chown whatever it points at (`STATE=/x/run/state`
  /// with `/x` PUID's: `run` a link to `/usr`, and `/usr/state`... or `lib` for a name). Refused before
  /// root touches the path. The state folder itself and its parent may be PUID's: the last step is
  /// opened without following a link. (COMFYUI_HOME's own path is the administrator's, as given.)
  static func requireStatePathRootOnly(_ layout: HomeLayout, uid: uid_t, gid: gid_t) throws(InitError) {
    guard layout.hasSeparateStateDir else { return }
    let parent = FileSystem.parent(of: layout.stateDir)
    var paths = [parent]
    if let resolved = realpath(parent, nil) {
      paths.append(String(cString: resolved))
      free(resolved)
    }
    for path in paths {
      // Each folder whose entry leads on: "/" for "x" in /x/run/state, "/x" for "run".
      var folder = "/"
      for name in path.split(separator: "/").map(String.init) {
        defer { folder = folder == "/" ? "/" + name : folder + "/" + name }
        var st = stat()
        guard stat(folder, &st) == 0 else { break }
        var entry = stat()
        let entryIsPUIDs = lstat(folder == "/" ? "/" + name : folder + "/" + name, &entry) == 0 && entry.st_uid == uid
        let writable = (st.st_gid == gid && st.st_mode & 0o020 != 0) || st.st_mode & 0o002 != 0
        // A sticky folder (/tmp) lets PUID rename only its own entries.
        let sticky = st.st_mode & S_ISVTX != 0
        guard st.st_uid == uid || (writable && (!sticky || entryIsPUIDs)) else { continue }
        let why = st.st_uid == uid ? "owns it" : "may write to it"
        throw InitError(
          .privileges,
          "COMFYUI_STATE_DIR=\(layout.stateDir) is below \(folder), which uid \(uid) (PUID) can change (it \(why)): root makes and hands over the state folder and would follow whatever uid \(uid) puts there; use a folder whose path only root can change (the image's /run/comfy-init) or leave COMFYUI_STATE_DIR unset"
        )
      }
    }
  }

  /// setgroups(0), setgid, setuid: for good (real, effective and saved ids), capabilities gone.
  static func become(uid: uid_t, gid: gid_t) throws(InitError) {
    guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
      throw InitError(
        .privileges, "cannot switch to uid \(uid)/gid \(gid): \(String(cString: strerror(errno))); check PUID/PGID")
    }
  }
}
