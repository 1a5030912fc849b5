// The phase pipeline: lock, ComfyUI source, custom nodes, venv, auth, models. Each phase is
// idempotent and crash-safe, logs one line with its duration, and on a warm restart costs a few
// file reads.
#if canImport(Glibc)
  import Glibc
#endif

public struct Bootstrap {
  let config: Config
  let runner: ToolRunner
  /// `comfy-init bootstrap` sets this: an image build has no credential, and serves nothing, so the
  /// auth phase waits for `run`, which still refuses to serve without one.
  public var deferAuthWithoutCredential = false

  public init(config: Config, supervisor: Supervisor) {
    self.config = config
    var runner = ToolRunner(supervisor: supervisor, environment: config.childEnvironment, searchPath: config.searchPath)
    runner.ledger = ToolLedger(layout: config.layout)
    self.runner = runner
  }

  public func run() throws {
    try Bootstrap.prepareHome(config)
    do { try runPhases() } catch let error as InitError where Bootstrap.mayBeStorage.contains(error.code) {
      // git, pip or a write failed: a full or read-only disk says what to do better than the tool.
      guard let storage = Bootstrap.storageProblem(config, message: error.message) else { throw error }
      Log.warn(error.message)
      throw storage
    }
  }

  private func runPhases() throws {
    let started = Instant.now()
    let layout = config.layout
    // The status file is the lock holder's: an instance waiting for the lock reports nothing yet.
    let lock = try phase(.lock, reportFirst: false) { () throws -> HomeLock in
      let lock = try HomeLock(path: layout.lockFile, supervisor: runner.supervisor)
      do { try ToolLedger.endLeftovers(layout, supervisor: runner.supervisor) } catch {
        lock.release()
        throw error
      }
      return lock
    }
    defer {
      runner.ledger?.release(supervisor: runner.supervisor)
      lock.release()
    }
    try phase(.source) { () throws -> String in
      let checkout = GitCheckout(
        runner: runner, layout: layout, offline: config.offline, update: config.update, failure: .git,
        follow: config.update)
      let result = try checkout.ensure(
        url: config.repo, ref: config.ref, at: layout.comfyDir, stamp: layout.comfyCheckoutStamp, label: "ComfyUI")
      guard FileSystem.exists(layout.comfyMain) else {
        throw InitError(.git, "\(layout.comfyDir) has no main.py; COMFYUI_REPO must be a ComfyUI repository")
      }
      return describe(result)
    }
    try phase(.nodes) { () throws -> String in
      try CustomNodes.ensure(config: config, runner: runner)
      return "\(config.wantedNodes.count) wanted"
    }
    try phase(.venv) { () throws -> String in
      let venv = Venv(config: config, runner: runner)
      if venv.isCurrent() { return "up to date, no installer run" }
      try venv.ensure()
      return "installed"
    }
    // ComfyUI-Login's guest switch goes (or stays, asked for) whether or not the auth phase waits.
    if config.auth == .login { try LoginNodeFiles.applyGuestMode(config) }
    if deferAuthWithoutCredential && PasswordFile.wouldBeClaimable(config) {
      Log.info("auth: deferred: no credential at bootstrap time; `run` writes login/PASSWORD or refuses to serve")
    } else if config.auth == .login {
      try phase(.auth) { () throws -> String in
        let result = try PasswordFile(config: config).ensure()
        LoginNodeFiles.secureSessionKey(layout, renew: result == .written)
        switch result {
        case .kept: return "login/PASSWORD unchanged (token stable)"
        case .keptExisting: return "using the existing login/PASSWORD"
        case .written: return "wrote login/PASSWORD"
        }
      }
    }
    try phase(.models) { try ModelProvisioning(config: config, supervisor: runner.supervisor).run() }
    Status.write(layout, phase: .bootstrapped)
    Log.info("bootstrap: done in \(formatDuration(started.secondsSince))")
  }

  /// Runs one phase: status file for `health`, one log line with its duration.
  @discardableResult
  private func phase<T>(_ phase: Phase, reportFirst: Bool = true, _ body: () throws -> T) throws -> T {
    if reportFirst { Status.write(config.layout, phase: phase) }
    let started = Instant.now()
    let result = try body()
    if !reportFirst { Status.write(config.layout, phase: phase) }
    let note = (result as? String).map { ": " + $0 } ?? ""
    Log.info("\(phase.rawValue)\(note) (\(formatDuration(started.secondsSince)))")
    return result
  }

  private func describe(_ result: GitCheckout.Result) -> String {
    switch result {
    case .unchanged: return "ComfyUI at \(config.ref)"
    case .cloned: return "cloned ComfyUI \(config.ref)"
    case .updated: return "moved ComfyUI to \(config.ref)"
    case .leftAlone: return "ComfyUI left alone (not at \(config.ref))"
    }
  }

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

  /// EROFS and ENOSPC say what to do better than "not writable": which one, on which device.
  private static func storageError(_ config: Config, errno code: Int32) -> InitError? {
    code == EROFS || code == ENOSPC ? storageProblem(config, errno: code) : nil
  }

  /// The failures a full or read-only disk can cause (a tool's message then hides the cause).
  static let mayBeStorage: Set<ExitCode> = [.filesystem, .git, .python, .install, .customNode]

  /// Below this, a failed git, pip or write is put down to the disk.
  static let lowSpace: UInt64 = 64 << 20

  /// A read-only or full filesystem under COMFYUI_HOME (or COMFYUI_VENV), as one message saying
  /// so; nil when neither holds. `errno` or `message` (a failure's text) may name the cause.
  static func storageProblem(_ config: Config, errno code: Int32 = 0, message: String = "") -> InitError? {
    // The state folder first: it is written first, and on a read-only root it is the mount to name.
    // It is small by nature (a tmpfs of a few MB), so only an empty one counts as full.
    let layout = config.layout
    var places = [(name: "COMFYUI_HOME", path: config.home, lowSpace: lowSpace)]
    if layout.hasSeparateStateDir {
      places.insert((name: "COMFYUI_STATE_DIR", path: layout.stateDir, lowSpace: 1), at: 0)
    }
    if !config.venv.hasPrefix(config.home + "/") {
      places.append((name: "COMFYUI_VENV", path: config.venv, lowSpace: lowSpace))
    }
    // A tool's message that blames the disk is put down to the home or the venv, not the state folder.
    var found: [(name: String, path: String, readOnly: Bool, free: UInt64, full: Bool, isData: Bool)] = []
    for place in places {
      // The nearest folder that exists: the home or the venv may not be made yet.
      var existing = place.path
      while !FileSystem.exists(existing) && existing != "/" { existing = FileSystem.parent(of: existing) }
      var st = statvfs()
      guard statvfs(existing, &st) == 0 else { continue }
      let free = UInt64(st.f_bavail) * UInt64(st.f_frsize)
      let noInodes = st.f_files > 0 && st.f_favail == 0
      found.append(
        (
          place.name, place.path, (st.f_flag & UInt(ST_RDONLY)) != 0, free, free < place.lowSpace || noInodes,
          place.name != "COMFYUI_STATE_DIR"
        ))
    }
    let saysReadOnly = code == EROFS || message.rangeOfSubstring(String(cString: strerror(EROFS))) != nil
    let saysFull = code == ENOSPC || message.rangeOfSubstring(String(cString: strerror(ENOSPC))) != nil
    if let place = found.first(where: \.readOnly) ?? (saysReadOnly ? found.first(where: \.isData) : nil) {
      let kind = place.name == "COMFYUI_STATE_DIR" ? " (a tmpfs or an emptyDir)" : ""
      return InitError(
        .filesystem, "\(place.name)=\(place.path) is on a read-only filesystem; mount a writable volume there\(kind)")
    }
    if let place = found.first(where: \.full) ?? (saysFull ? found.first(where: \.isData) : nil) {
      return InitError(
        .filesystem,
        "no space left on the device holding \(place.name)=\(place.path) (\(place.free) bytes free); free some space or grow the volume"
      )
    }
    return nil
  }

  /// PUID/PGID, started as root: root makes only what PUID cannot (the home, a venv outside it) and
  /// hands over the trees that belong to someone else (a first start, root-owned volumes of an older
  /// version), safely; then comfy-init itself becomes PUID:PGID without supplementary groups. Git,
  /// pip, PASSWORD, downloads and the server then never run with root's power over paths PUID can
  /// change. Only a tree whose top PUID does not own is walked: a warm restart costs a few fstat().
  public static func dropPrivileges(_ config: inout Config) throws(InitError) {
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
    config.giveChildrenWritablePlaces()
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
