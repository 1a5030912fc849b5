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
    self.runner = ToolRunner(
      supervisor: supervisor, environment: config.childEnvironment, searchPath: config.searchPath)
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
    let lock = try phase(.lock, reportFirst: false) {
      try HomeLock(path: layout.lockFile, supervisor: runner.supervisor)
    }
    defer { lock.release() }
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
    if deferAuthWithoutCredential && PasswordFile.wouldBeClaimable(config) {
      Log.info("auth: deferred: no credential at bootstrap time; `run` writes login/PASSWORD or refuses to serve")
    } else if config.auth == .login {
      try phase(.auth) { () throws -> String in
        switch try PasswordFile(config: config).ensure() {
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
    do {
      try FileSystem.makeDirectories(config.home)
      try FileSystem.makeDirectories(config.layout.stateDir)
    } catch {
      throw storageError(config, errno: error.errnoValue)
        ?? InitError(
          .filesystem,
          "COMFYUI_HOME=\(config.home) is not usable (\(error)); mount a writable volume there or run as its owner")
    }
    guard access(config.layout.stateDir, W_OK) == 0 else {
      throw storageError(config, errno: errno)
        ?? InitError(
          .filesystem, "COMFYUI_HOME=\(config.home) is not writable by uid \(getuid()); chown it or set PUID/PGID")
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
    var places = [(name: "COMFYUI_HOME", path: config.home)]
    if !config.venv.hasPrefix(config.home + "/") { places.append((name: "COMFYUI_VENV", path: config.venv)) }
    var found: [(name: String, path: String, readOnly: Bool, free: UInt64, full: Bool)] = []
    for place in places {
      // The nearest folder that exists: the home or the venv may not be made yet.
      var existing = place.path
      while !FileSystem.exists(existing) && existing != "/" { existing = FileSystem.parent(of: existing) }
      var st = statvfs()
      guard statvfs(existing, &st) == 0 else { continue }
      let free = UInt64(st.f_bavail) * UInt64(st.f_frsize)
      let noInodes = st.f_files > 0 && st.f_favail == 0
      found.append((place.name, place.path, (st.f_flag & UInt(ST_RDONLY)) != 0, free, free < lowSpace || noInodes))
    }
    let saysReadOnly = code == EROFS || message.rangeOfSubstring(String(cString: strerror(EROFS))) != nil
    let saysFull = code == ENOSPC || message.rangeOfSubstring(String(cString: strerror(ENOSPC))) != nil
    if let place = found.first(where: \.readOnly) ?? (saysReadOnly ? found.first : nil) {
      return InitError(
        .filesystem, "\(place.name)=\(place.path) is on a read-only filesystem; mount a writable volume there")
    }
    if let place = found.first(where: \.full) ?? (saysFull ? found.first : nil) {
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
    try prepareHome(config)
    let layout = config.layout
    let home = layout.home
    let venvBase = layout.venv.hasPrefix(home + "/") ? home : FileSystem.parent(of: layout.venv)
    if venvBase != home { try? FileSystem.makeDirectories(layout.venv) }
    // Inner trees first, each as a whole even when it is a volume of its own; the walk of the home
    // then skips them.
    var walked: [String] = []
    for (path, base) in [(layout.venv, venvBase), (layout.comfyDir, home), (layout.stateDir, home), (home, home)] {
      let (done, linked) = FileSystem.handOver(path, below: base, uid: uid, gid: gid, skipping: walked)
      if done + linked > 0 {
        walked.append(path)
        Log.info("ownership: \(path) handed to \(uid):\(gid) (\(done) entries, \(linked) hard-linked files left alone)")
      }
    }
    try become(uid: uid, gid: gid)
    config.giveChildrenAWritableHome()
  }

  /// setgroups(0), setgid, setuid: for good (real, effective and saved ids), capabilities gone.
  static func become(uid: uid_t, gid: gid_t) throws(InitError) {
    guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
      throw InitError(
        .privileges, "cannot switch to uid \(uid)/gid \(gid): \(String(cString: strerror(errno))); check PUID/PGID")
    }
  }
}
