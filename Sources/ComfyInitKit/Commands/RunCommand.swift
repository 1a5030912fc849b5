// `comfy-init run` and `comfy-init bootstrap`: configuration, the gate (auth on), the PUID drop, the
// bootstrap's phases, then the server, supervised (or exec'd).
#if canImport(Glibc)
  import Glibc
#endif

enum RunCommand {
  static func run(_ args: [String], bootstrapOnly: Bool) throws -> Int32 {
    let (flags, serverArgs) = splitServerArgs(args)
    var config = try CLI.loadConfig(flags: flags)
    if bootstrapOnly && !serverArgs.isEmpty {
      throw InitError(.usage, "bootstrap takes no server arguments; pass them to `comfy-init run -- ARGS`")
    }
    try ServerFlags.validate(serverArgs, auth: config.auth, source: "the server argument list after --")
    if config.auth == .login { try config.gate.validate() }
    // Serving without PASSWORD would let the first visitor claim the server: refuse before any work.
    if !bootstrapOnly && PasswordFile.wouldBeClaimable(config) { throw PasswordFile.claimableRefusal(config.layout) }
    let supervisor = Supervisor(signals: try SignalChannel())
    if getpid() != 1 && !bootstrapOnly && config.initMode == .supervise {
      Log.info("not PID 1 (pid \(getpid())): acting as child subreaper")
    }
    Log.info("config: \(config.redactedSummary)")
    // The gate first, before the long phases (it answers 503 until it has the credential), and before
    // the PUID drop: as root it becomes a uid of its own, which the server cannot signal.
    let gate =
      !bootstrapOnly && config.auth == .login ? try GateProcess.start(config: config, supervisor: supervisor) : nil
    let outcome = Result { () throws -> Int32 in
      try bootstrapAndServe(&config, serverArgs: serverArgs, bootstrapOnly: bootstrapOnly, gate: gate, supervisor)
    }
    gate?.stop()
    // The gate's end stopped everything: that, not the server's obedient exit, is the outcome.
    if let ended = supervisor.gateEnded {
      throw InitError(.gate, "the gate ended with \(ended.description); exiting \(ExitCode.gate.rawValue)")
    }
    return try outcome.get()
  }

  private static func bootstrapAndServe(
    _ config: inout Config, serverArgs: [String], bootstrapOnly: Bool, gate: GateProcess?, _ supervisor: Supervisor
  ) throws -> Int32 {
    // Root with PUID: from here on comfy-init is PUID (no status written as root: it is PUID's file).
    try Bootstrap.dropPrivileges(config)
    Bootstrap.giveChildrenWritablePlaces(&config)
    let reporter = PhaseReporter(config.layout)
    do {
      var bootstrap = Bootstrap(config: config, supervisor: supervisor, reporter: reporter)
      bootstrap.deferAuthWithoutCredential = bootstrapOnly
      try bootstrap.run()
      if bootstrapOnly { return 0 }
      try Bootstrap.requireServerPlaces(config, extraArgs: serverArgs)
      // Said once, before the server prints its own (less direct) view of the GPU.
      let cuda = CUDACompatibility.verdict(config.layout)
      if let message = cuda.message {
        if case .incompatible = cuda { Log.error(message) } else { Log.warn(message) }
      }
      try gate?.sendCredential(config: config)
      let server = Server(config: config, supervisor: supervisor, reporter: reporter)
      if config.initMode == .exec { try server.exec(extraArgs: serverArgs) }
      return try server.supervise(extraArgs: serverArgs)
    } catch let error as InitError {
      reporter.failed(error)
      throw error
    } catch let stop as StopRequested {
      Log.info(
        "\(Signals.name(stop.signal)) during the bootstrap: stopped; the next start resumes where this one ended")
      return 0
    }
  }

  /// Splits "FLAGS -- SERVER_ARGS".
  static func splitServerArgs(_ args: [String]) -> ([String], [String]) {
    guard let dash = args.firstIndex(of: "--") else { return (args, []) }
    return (Array(args[..<dash]), Array(args[(dash + 1)...]))
  }
}
