// Starting ComfyUI: as a supervised child (the default: comfy-init stays PID 1), or by exec for
// platforms that bring their own init.
import CInit
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

public struct Server {
  let config: Config
  let supervisor: Supervisor

  public init(config: Config, supervisor: Supervisor) {
    self.config = config
    self.supervisor = supervisor
  }

  public func command(extraArgs: [String]) -> [String] {
    let main = config.auth == .login ? ["-c", Server.portGuard(port: config.port), "main.py"] : ["main.py"]
    let python = config.layout.python
    return [python] + main + ["--listen", config.listen, "--port", String(config.port)] + config.serverArgs + extraArgs
  }

  /// With auth on, ComfyUI runs under a Python audit hook that lets it open its port only once
  /// ComfyUI-Login's module has finished importing (ComfyUI itself counts a node as loaded when it
  /// defines NODE_CLASS_MAPPINGS). Reading the log alone could lose the race between the import
  /// failure and the bind on a loaded machine; the hook cannot. main.py then runs as `python main.py`
  /// would run it: same sys.argv and sys.path[0], a fresh __main__ module. Not through runpy: with
  /// its imports that cost the stand-in 10 million instructions (3 ms) more before its first answer.
  /// The hook runs for every audited event (about 600 before the bind), so it tests the name first.
  static func portGuard(port: Int) -> String {
    """
    import os, sys
    def comfy_init_port_guard(event, args, port=\(port)):
        if event != "socket.bind" or not isinstance(args[1], tuple) or len(args[1]) < 2 or args[1][1] != port:
            return
        login = os.sep + os.path.join("custom_nodes", "\(Config.loginNodeName)", "__init__.py")
        for module in list(sys.modules.values()):
            if (getattr(module, "__file__", None) or "").endswith(login) and hasattr(module, "NODE_CLASS_MAPPINGS"):
                return
        sys.stderr.write("\(AuthGuard.portGuardRefusal) %d\\n" % port)
        sys.stderr.flush()
        os._exit(\(AuthGuard.portGuardExitCode))
    sys.addaudithook(comfy_init_port_guard)
    def comfy_init_run_main():
        sys.argv = sys.argv[1:]
        path = sys.argv[0]
        sys.path[0] = os.path.dirname(os.path.abspath(path))
        main = type(sys)("__main__")
        main.__file__, main.__cached__, main.__builtins__ = path, None, __builtins__
        sys.modules["__main__"] = main
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        exec(code, main.__dict__)
    comfy_init_run_main()
    """
  }

  /// Runs the server until it exits; returns comfy-init's exit code.
  public func supervise(extraArgs: [String]) -> Int32 {
    do { try supervisor.throwIfStopped() } catch {
      Log.info("serve: \(Signals.name(error.signal)) arrived before the server started; not starting it")
      return 0
    }
    let layout = config.layout
    var options = SpawnOptions(environment: config.serverEnvironment)
    options.directory = layout.comfyDir
    options.takeTerminal = true
    let argv = command(extraArgs: extraArgs)
    let authGuard = config.auth == .login ? AuthGuard(config: config) : nil
    let relays = makeLogRelays(&options, observe: authGuard.map { g in { g.observe($0) } })
    let started = Instant.now()
    let pid: pid_t
    do {
      pid = try supervisor.start(argv, options: options)
      closeChildEnds(options)
    } catch {
      closeChildEnds(options)
      Log.error("\(error); the venv may be broken: delete \(layout.venvStamp) to reinstall")
      Status.write(layout, phase: .failed, detail: "cannot start the server")
      return error.shellCode
    }
    Status.write(layout, phase: .serving, pid: pid)
    Log.info("serve: started ComfyUI as pid \(pid) on \(config.listen):\(config.port)")
    let policy = Supervisor.Policy(
      translate: [SIGTERM: config.stopSignal], stopTimeout: config.stopTimeout,
      repeatStopAfter: config.stopTimeout / 2)
    var unused = [UInt8]()
    let outcome = supervisor.wait(for: pid, policy: policy, collected: &unused, relays: relays, authGuard: authGuard)
    var refused = outcome.refused
    if config.auth == .login, refused == nil, outcome.status == .exited(Int32(AuthGuard.portGuardExitCode)) {
      refused = AuthGuard.portGuardFailure
      Log.error(refused!)
    }
    if let refused {
      Status.write(layout, phase: .failed, detail: refused)
      return ExitCode.authNotEnforced.rawValue
    }
    let code = exitCode(for: outcome)
    Status.write(layout, phase: .exited, detail: outcome.status.description)
    Log.info(
      "serve: ComfyUI ended with \(outcome.status.description) after \(formatDuration(started.secondsSince)); exiting \(code)"
    )
    return code
  }

  /// The server's output goes through comfy-init whenever auth is on: the auth guard reads ComfyUI's
  /// import report there. ComfyUI-Login also logs its token (the PASSWORD hash) at every start, so
  /// unless stdout is a terminal (`docker run -it`, a person watching) or COMFYUI_REDACT_LOGS=0, the
  /// relay cuts the hash and the password out before they reach the container log.
  private func makeLogRelays(_ options: inout SpawnOptions, observe: ((ArraySlice<UInt8>) -> Void)?) -> [LogRelay] {
    guard config.auth == .login else { return [] }
    var secrets: [String] = []
    if config.redactLogs && isatty(1) == 0 {
      // Through a link too: ComfyUI-Login reads (and logs) whatever the name leads to.
      if let hash = PasswordFile.token(at: config.layout.passwordFile, noFollow: false), !hash.isEmpty {
        secrets += [hash, percentEncode(hash)]
      }
      if case .password(let password) = config.credential { secrets.append(password) }
    }
    var relays: [LogRelay] = []
    for (target, assign) in [(Int32(1), \SpawnOptions.stdoutFD), (Int32(2), \SpawnOptions.stderrFD)] {
      var fds: [Int32] = [-1, -1]
      guard cinit_pipe_cloexec(&fds) == 0 else { continue }
      options[keyPath: assign] = fds[1]
      relays.append(LogRelay(source: fds[0], destination: target, secrets: secrets, observe: observe))
    }
    return relays
  }

  /// The write ends belong to the child now; keeping them open would hide its end of file.
  private func closeChildEnds(_ options: SpawnOptions) {
    if options.stdoutFD > 2 { close(options.stdoutFD) }
    if options.stderrFD > 2 { close(options.stderrFD) }
  }

  /// A stop we asked for, answered by the server stopping, is success; anything else passes through.
  func exitCode(for outcome: Supervisor.Outcome) -> Int32 {
    guard let stop = supervisor.stopSignal, !outcome.killedAfterGrace else { return outcome.status.code }
    let forwarded = stop == SIGTERM ? config.stopSignal : stop
    switch outcome.status {
    case .exited(let code) where code == 0 || code == 128 + forwarded || code == 128 + stop: return 0
    case .signaled(let signal) where signal == forwarded || signal == stop: return 0
    default: return outcome.status.code
    }
  }

  /// COMFYUI_INIT=exec: become the server. Returns only when exec failed.
  public func exec(extraArgs: [String]) -> Int32 {
    supervisor.signals.restoreForExec()
    let layout = config.layout
    guard chdir(layout.comfyDir) == 0 else {
      Log.error("cannot enter \(layout.comfyDir): \(String(cString: strerror(errno)))")
      return ExitCode.filesystem.rawValue
    }
    Status.write(layout, phase: .serving, detail: "exec")
    Log.info("serve: exec ComfyUI on \(config.listen):\(config.port) (COMFYUI_INIT=exec)")
    let failure = ChildProcess.exec(command(extraArgs: extraArgs), environment: config.serverEnvironment)
    Log.error("\(failure)")
    return failure.shellCode
  }
}
