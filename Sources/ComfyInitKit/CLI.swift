// comfy-init's command line: a checklist of small steps per subcommand.
import Bcrypt
import CInit
import Version

#if canImport(Glibc)
  import Glibc
#endif

public enum CLI {
  static var help: String {
    """
    comfy-init \(Version.description): PID-1 entrypoint for ComfyUI containers.

    Usage:
      comfy-init [run] [FLAGS] [-- SERVER_ARGS...]  bootstrap, then serve ComfyUI as a supervised child
      comfy-init bootstrap [FLAGS]                 bootstrap only (the image build runs this), then exit 0;
                                                   with no credential it defers the auth phase to `run`
      comfy-init health [--timeout S]              exit 0 iff an authenticated GET /system_stats answers 200
                                                   and, with auth on, one without credentials is refused
      comfy-init provision [FLAGS]                 only the models phase: fetch what COMFYUI_MODELS_MANIFEST
                                                   lists into HOME/ComfyUI/models, verify it, then exit
      comfy-init hash-password [--cost N]          read a password on stdin, print its bcrypt hash
      comfy-init supervise [-- ] CMD [ARGS...]     run any command as a supervised child (like tini)
      comfy-init version | --help

    Configuration comes from the environment; each variable's flag overrides it (--stop-timeout 3 sets
    COMFYUI_STOP_TIMEOUT=3; a switch such as --offline alone sets 1). Secrets are never accepted as flags.
    Booleans take 1/true/yes/on or 0/false/no/off. The Hugging Face token goes over HTTPS to huggingface.co
    and COMFYUI_TOKEN_HOSTS only, never after a redirect to another host.
    \(Config.helpLines)

    Exit codes: 0 ok, 2 usage, 10 config, 11 credential, 12 filesystem, 13 lock, 14 git, 15 python/venv,
    16 install, 17 offline, 18 custom node, 19 privileges, 20 models, 21 auth not enforced (stopped),
    22 (health) the driver supports an older CUDA than torch needs, 23 the gate cannot start or stopped,
    126/127 server cannot run, else the server's code.
    """
  }

  /// The process arguments, from the pre-runtime capture (CommandLine may be empty in a static PID 1).
  public static func arguments() -> [String] {
    let argv = cinit_argv()
    guard let argv, cinit_argc() > 0 else { return Array(CommandLine.arguments) }
    return (1..<Int(cinit_argc())).map { String(cString: argv[$0]!) }
  }

  public static func main() -> Int32 {
    var args = arguments()
    let command =
      args.first.flatMap { $0.hasPrefix("-") && $0 != "--help" && $0 != "-h" && $0 != "--version" ? nil : $0 } ?? "run"
    if !args.isEmpty && args[0] == command { args.removeFirst() }
    switch command {
    case "run": return run(args, bootstrapOnly: false)
    case "bootstrap": return run(args, bootstrapOnly: true)
    case "health": return health(args)
    case "provision": return provision(args)
    case "hash-password": return hashPassword(args)
    case "supervise": return supervise(args)
    case "version", "--version": print(versionLine); return 0
    case "help", "--help", "-h": print(help); return 0
    default:
      Log.error("unknown command '\(command)'; run comfy-init --help")
      return ExitCode.usage.rawValue
    }
  }

  /// "comfy-init 0.1.0 (commit abc1234) ComfyUI v0.8.0 by default": comfyctl reads the first four
  /// words of it for the image's labels (ComfyCtlKit's InitBinary), so keep their order.
  static var versionLine: String { "comfy-init \(Version.description) ComfyUI \(Config.defaultRef) by default" }

  /// Splits "FLAGS -- SERVER_ARGS".
  static func splitServerArgs(_ args: [String]) -> ([String], [String]) {
    guard let dash = args.firstIndex(of: "--") else { return (args, []) }
    return (Array(args[..<dash]), Array(args[(dash + 1)...]))
  }

  static func run(_ args: [String], bootstrapOnly: Bool) -> Int32 {
    var gate: GateProcess? = nil
    var supervisor: Supervisor? = nil
    let code = run(args, bootstrapOnly: bootstrapOnly, gate: &gate, supervisor: &supervisor)
    gate?.stop()
    // The gate's end stopped everything: that, not the server's obedient exit, is the outcome.
    if let ended = supervisor?.gateEnded {
      Log.error("the gate ended with \(ended.description); exiting \(ExitCode.gate.rawValue)")
      return ExitCode.gate.rawValue
    }
    return code
  }

  static func run(_ args: [String], bootstrapOnly: Bool, gate: inout GateProcess?, supervisor made: inout Supervisor?)
    -> Int32
  {
    let (flags, serverArgs) = splitServerArgs(args)
    var config: Config
    do {
      config = try Config.load(environment: Config.applyFlags(flags, to: Config.processEnvironment()))
    } catch {
      Log.error(error.message)
      return error.code.rawValue
    }
    if bootstrapOnly && !serverArgs.isEmpty {
      Log.error("bootstrap takes no server arguments; pass them to `comfy-init run -- ARGS`")
      return ExitCode.usage.rawValue
    }
    do {
      try ServerFlags.validate(serverArgs, auth: config.auth, source: "the server argument list after --")
      if config.auth == .login { try config.gate.validate() }
    } catch {
      Log.error(error.message)
      return error.code.rawValue
    }
    // Serving without PASSWORD would let the first visitor claim the server: refuse before any work.
    if !bootstrapOnly && PasswordFile.wouldBeClaimable(config) {
      let refusal = PasswordFile.claimableRefusal(config.layout)
      Log.error(refusal.message)
      return refusal.code.rawValue
    }
    let supervisor: Supervisor
    do { supervisor = Supervisor(signals: try SignalChannel()) } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
    made = supervisor
    if getpid() != 1 && !bootstrapOnly && config.initMode == .supervise {
      Log.info("not PID 1 (pid \(getpid())): acting as child subreaper")
    }
    Log.info("config: \(config.redactedSummary)")
    // The gate first, before the long phases (it answers 503 until it has the credential), and before
    // the PUID drop: as root it becomes a uid of its own, which the server cannot signal.
    if !bootstrapOnly && config.auth == .login {
      do { gate = try GateProcess.start(config: config, supervisor: supervisor) } catch {
        Log.error(error.message)
        return error.code.rawValue
      }
    }
    // Root with PUID: from here on comfy-init is PUID (no status written as root: it is PUID's file).
    do { try Bootstrap.dropPrivileges(&config) } catch {
      Log.error(error.message)
      return error.code.rawValue
    }
    config.giveChildrenWritablePlaces()
    do {
      var bootstrap = Bootstrap(config: config, supervisor: supervisor)
      bootstrap.deferAuthWithoutCredential = bootstrapOnly
      try bootstrap.run()
    } catch let error as InitError {
      Log.error(error.message)
      Status.write(config.layout, phase: .failed, detail: error.message)
      return error.code.rawValue
    } catch let stop as StopRequested {
      Log.info(
        "\(Signals.name(stop.signal)) during the bootstrap: stopped; the next start resumes where this one ended")
      return 0
    } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
    if bootstrapOnly { return 0 }
    do { try Bootstrap.requireServerPlaces(config, extraArgs: serverArgs) } catch {
      Log.error(error.message)
      Status.write(config.layout, phase: .failed, detail: error.message)
      return error.code.rawValue
    }
    // Said once, before the server prints its own (less direct) view of the GPU.
    let cuda = CUDACompatibility.verdict(config.layout)
    if let message = cuda.message {
      if case .incompatible = cuda { Log.error(message) } else { Log.warn(message) }
    }
    if let gate {
      do { try gate.sendCredential(config: config) } catch {
        Log.error(error.message)
        Status.write(config.layout, phase: .failed, detail: error.message)
        return error.code.rawValue
      }
    }
    let server = Server(config: config, supervisor: supervisor)
    return config.initMode == .exec ? server.exec(extraArgs: serverArgs) : server.supervise(extraArgs: serverArgs)
  }

  /// The models phase alone, e.g. `docker exec` after editing the manifest, or a test.
  static func provision(_ args: [String]) -> Int32 {
    var config: Config
    let supervisor: Supervisor
    do {
      config = try Config.load(environment: Config.applyFlags(args, to: Config.processEnvironment()))
      supervisor = Supervisor(signals: try SignalChannel())
      try Bootstrap.dropPrivileges(&config)
    } catch let error as InitError {
      Log.error(error.message)
      return error.code.rawValue
    } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
    // Best effort: the status file and the verification stamps live there.
    let layout = config.layout
    try? FileSystem.makeDirectories(layout.stateDir)
    let ownsStatus = ModelProvisioning.mayWriteStatus(layout)
    if ownsStatus { Status.write(layout, phase: .models) }
    do {
      Log.info(
        "models: " + (try ModelProvisioning(config: config, supervisor: supervisor, reportStatus: ownsStatus).run()))
      if ownsStatus { Status.write(layout, phase: .bootstrapped) }
      return 0
    } catch let error as InitError {
      Log.error(error.message)
      if ownsStatus { Status.write(layout, phase: .failed, detail: error.message) }
      return error.code.rawValue
    } catch let stop as StopRequested {
      Log.info("\(Signals.name(stop.signal)): stopped; the next start resumes the downloads")
      if ownsStatus { Status.write(layout, phase: .exited, detail: "provisioning stopped") }
      return 0
    } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
  }

  static func health(_ args: [String]) -> Int32 {
    var timeout = 5.0
    var rest = args[...]
    while let flag = rest.popFirst() {
      guard flag == "--timeout", let value = rest.popFirst(), let seconds = Double(value), seconds > 0 else {
        Log.error("usage: comfy-init health [--timeout SECONDS]")
        return ExitCode.usage.rawValue
      }
      timeout = seconds
    }
    // The health check needs no credential (it reads the token from login/PASSWORD) and no Hub token.
    let config: Config
    do { config = try Config.load(environment: Config.processEnvironment(), readSecrets: false) } catch {
      print("config: \(error.message)")
      return 1
    }
    // A `docker exec` as root reads PUID's files as PUID (a planted link leads nowhere).
    if let owner = config.owner, getuid() == 0 {
      do { try Bootstrap.become(uid: owner.uid, gid: owner.gid) } catch {
        print(error.message)
        return 1
      }
    }
    let (code, line) = HealthCheck(config: config, timeout: timeout).run()
    print(line)
    return code
  }

  static func hashPassword(_ args: [String]) -> Int32 {
    var cost = Bcrypt.defaultCost
    if args.count == 2, args[0] == "--cost", let n = Int(args[1]) {
      cost = n
    } else if !args.isEmpty {
      Log.error("usage: comfy-init hash-password [--cost N] < password")
      return ExitCode.usage.rawValue
    }
    var input = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      input.append(contentsOf: chunk[0..<n])
    }
    let password = String(decoding: input, as: UTF8.self).droppingLineEnd()
    guard !password.isEmpty, password.utf8.count <= 72 else {
      Log.error("the password on stdin must be 1 to 72 bytes (bcrypt's limit)")
      return ExitCode.credential.rawValue
    }
    do {
      print(try Bcrypt.hash(password: password, cost: cost))
      return 0
    } catch {
      Log.error("\(error)")
      return ExitCode.usage.rawValue
    }
  }

  /// A plain init for any command: what `run` does once the bootstrap is over.
  static func supervise(_ args: [String]) -> Int32 {
    var rest = args[...]
    var timeout = 8.0
    var translate: [Int32: Int32] = [:]
    while let flag = rest.first, flag.hasPrefix("-") {
      rest.removeFirst()
      if flag == "--" { break }
      guard let value = rest.popFirst() else {
        Log.error("\(flag) needs a value")
        return ExitCode.usage.rawValue
      }
      switch flag {
      case "--stop-timeout":
        guard let t = Double(value), t >= 0 else {
          Log.error("--stop-timeout takes seconds"); return ExitCode.usage.rawValue
        }
        timeout = t
      case "--stop-signal":
        guard let s = Signals.number(named: value) else {
          Log.error("--stop-signal takes a signal name"); return ExitCode.usage.rawValue
        }
        translate[SIGTERM] = s
      default:
        Log.error("unknown flag \(flag); see comfy-init --help")
        return ExitCode.usage.rawValue
      }
    }
    guard !rest.isEmpty else {
      Log.error("usage: comfy-init supervise [--stop-timeout S] [--stop-signal SIG] [--] CMD [ARGS...]")
      return ExitCode.usage.rawValue
    }
    let supervisor: Supervisor
    do { supervisor = Supervisor(signals: try SignalChannel()) } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
    var options = SpawnOptions(environment: Config.processEnvironment())
    options.takeTerminal = true
    let pid: pid_t
    do { pid = try supervisor.start(Array(rest), options: options) } catch {
      Log.error("\(error)")
      return error.shellCode
    }
    var unused = [UInt8]()
    let outcome = supervisor.wait(
      for: pid, policy: .init(translate: translate, stopTimeout: timeout), collected: &unused)
    return outcome.status.code
  }
}
