// The phase pipeline: lock, ComfyUI source, custom nodes, venv, auth, models. Each phase is
// idempotent and crash-safe, logs one line with its duration, and on a warm restart costs a few
// file reads.
#if canImport(Glibc)
  import Glibc
#endif

public struct Bootstrap {
  let config: Config
  let runner: ToolRunner
  let reporter: PhaseReporter
  /// `comfy-init bootstrap` sets this: an image build has no credential, and serves nothing, so the
  /// auth phase waits for `run`, which still refuses to serve without one.
  public var deferAuthWithoutCredential = false

  init(config: Config, supervisor: Supervisor, reporter: PhaseReporter) {
    self.config = config
    self.reporter = reporter
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
    let lock = try reporter.run(.lock, reportFirst: false) { () throws -> HomeLock in
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
    try reporter.run(.source) { () throws -> String in
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
    try reporter.run(.nodes) { () throws -> String in
      try CustomNodes.ensure(config: config, runner: runner)
      return "\(config.wantedNodes.count) wanted"
    }
    try reporter.run(.venv) { () throws -> String in
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
      try reporter.run(.auth) { () throws -> String in
        let result = try PasswordFile(config: config).ensure()
        LoginNodeFiles.secureSessionKey(layout, renew: result == .written)
        switch result {
        case .kept: return "login/PASSWORD unchanged (token stable)"
        case .keptExisting: return "using the existing login/PASSWORD"
        case .written: return "wrote login/PASSWORD"
        }
      }
    }
    try reporter.run(.models) {
      try ModelProvisioning(config: config, supervisor: runner.supervisor, reporter: reporter).run()
    }
    reporter.report(.bootstrapped)
    Log.info("bootstrap: done in \(formatDuration(started.secondsSince))")
  }

  private func describe(_ result: GitCheckout.Result) -> String {
    switch result {
    case .unchanged: return "ComfyUI at \(config.ref)"
    case .cloned: return "cloned ComfyUI \(config.ref)"
    case .updated: return "moved ComfyUI to \(config.ref)"
    case .leftAlone: return "ComfyUI left alone (not at \(config.ref))"
    }
  }
}
