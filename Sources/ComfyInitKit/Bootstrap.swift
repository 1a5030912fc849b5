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
    self.runner = ToolRunner(supervisor: supervisor, environment: Bootstrap.childEnvironment(config.environment))
  }

  /// The environment children get: everything but the secrets comfy-init consumed.
  public static func childEnvironment(_ env: [String: String]) -> [String: String] {
    var copy = env
    for secret in Config.withheldFromChildren { copy[secret] = nil }
    return copy
  }

  public func run() throws {
    let started = Instant.now()
    try prepareHome()
    let lock = try phase("lock") { try HomeLock(stateDir: config.stateDir, supervisor: runner.supervisor) }
    defer { lock.release() }
    try phase("source") { () throws -> String in
      let checkout = GitCheckout(
        runner: runner, stampDir: config.stateDir, offline: config.offline, update: config.update, failure: .git)
      let result = try checkout.ensure(url: config.repo, ref: config.ref, at: config.comfyDir, label: "ComfyUI")
      guard FileSystem.exists(config.comfyDir + "/main.py") else {
        throw InitError(.git, "\(config.comfyDir) has no main.py; COMFYUI_REPO must be a ComfyUI repository")
      }
      return describe(result)
    }
    try phase("nodes") { () throws -> String in
      try CustomNodes.ensure(config: config, runner: runner)
      return "\(config.wantedNodes.count) wanted"
    }
    try phase("venv") { () throws -> String in
      let venv = Venv(config: config, runner: runner)
      if venv.isCurrent() { return "up to date, no installer run" }
      try venv.ensure()
      return "installed"
    }
    if config.auth == .login && deferAuthWithoutCredential && config.credential == nil
      && !FileSystem.exists(config.passwordFile)
    {
      Log.info("auth: deferred: no credential at bootstrap time; `run` writes login/PASSWORD or refuses to serve")
    } else if config.auth == .login {
      try phase("auth") { () throws -> String in
        switch try PasswordFile(config: config).ensure() {
        case .kept: return "login/PASSWORD unchanged (token stable)"
        case .keptExisting: return "using the existing login/PASSWORD"
        case .written: return "wrote login/PASSWORD"
        }
      }
    }
    try phase("models") { try ModelProvisioning(config: config, supervisor: runner.supervisor).run() }
    try handOverOwnership()
    Status.write(home: config.home, phase: "bootstrapped")
    Log.info("bootstrap: done in \(formatDuration(started.secondsSince))")
  }

  /// Runs one phase: status file for `health`, one log line with its duration.
  @discardableResult
  private func phase<T>(_ name: String, _ body: () throws -> T) throws -> T {
    Status.write(home: config.home, phase: name)
    let started = Instant.now()
    let result = try body()
    let note = (result as? String).map { ": " + $0 } ?? ""
    Log.info("\(name)\(note) (\(formatDuration(started.secondsSince)))")
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

  private func prepareHome() throws(InitError) {
    do {
      try FileSystem.makeDirectories(config.home)
      try FileSystem.makeDirectories(config.stateDir)
    } catch {
      throw InitError(
        .filesystem,
        "COMFYUI_HOME=\(config.home) is not usable (\(error)); mount a writable volume there or run as its owner")
    }
    guard access(config.stateDir, W_OK) == 0 else {
      throw InitError(
        .filesystem, "COMFYUI_HOME=\(config.home) is not writable by uid \(getuid()); chown it or set PUID/PGID")
    }
  }

  /// PUID/PGID: what comfy-init made belongs to that user. Only trees whose top is owned by
  /// someone else are walked, so a warm restart costs a few stat() calls.
  private func handOverOwnership() throws(InitError) {
    guard let uid = config.puid else { return }
    let gid = config.pgid ?? gid_t(uid)
    guard getuid() == 0 else {
      if getuid() == uid { return }
      throw InitError(
        .privileges,
        "PUID=\(uid) needs comfy-init to start as root (it runs as uid \(getuid())); drop PUID or start as root")
    }
    for path in [config.home, config.stateDir, config.comfyDir, config.venv] {
      var st = stat()
      if lstat(path, &st) == 0 && (st.st_uid != uid || st.st_gid != gid) {
        FileSystem.changeOwnerRecursively(path, uid: uid, gid: gid)
      }
    }
  }
}
