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
    let started = Instant.now()
    let layout = config.layout
    try Bootstrap.prepareHome(config)
    let lock = try phase(.lock) { try HomeLock(path: layout.lockFile, supervisor: runner.supervisor) }
    defer { lock.release() }
    try phase(.source) { () throws -> String in
      let checkout = GitCheckout(
        runner: runner, layout: layout, offline: config.offline, update: config.update, failure: .git)
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
  private func phase<T>(_ phase: Phase, _ body: () throws -> T) throws -> T {
    Status.write(config.layout, phase: phase)
    let started = Instant.now()
    let result = try body()
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
      throw InitError(
        .filesystem,
        "COMFYUI_HOME=\(config.home) is not usable (\(error)); mount a writable volume there or run as its owner")
    }
    guard access(config.layout.stateDir, W_OK) == 0 else {
      throw InitError(
        .filesystem, "COMFYUI_HOME=\(config.home) is not writable by uid \(getuid()); chown it or set PUID/PGID")
    }
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
