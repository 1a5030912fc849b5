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
  let reporter: PhaseReporter

  init(config: Config, supervisor: Supervisor, reporter: PhaseReporter) {
    self.config = config
    self.supervisor = supervisor
    self.reporter = reporter
  }

  /// With auth on, ComfyUI listens on 127.0.0.1:COMFYUI_INTERNAL_PORT behind the gate; without, where
  /// clients connect.
  public func command(extraArgs: [String]) -> [String] {
    let (listen, port) = config.auth == .login ? ("127.0.0.1", config.gate.internalPort) : (config.listen, config.port)
    return [config.layout.python, "main.py", "--listen", listen, "--port", String(port)] + config.serverArgs + extraArgs
  }

  /// The bind guard: with auth on, ComfyUI may open listening sockets on loopback only, whatever a custom
  /// node, a flag or an in-place restart asks for. A `sitecustomize` on PYTHONPATH, so it is in place
  /// again after ComfyUI-Manager's restart (`os.execv` keeps the environment, not our argv). It wraps
  /// `socket.socket.bind` alone: nothing runs outside a bind (an audit hook would run on every audited
  /// event, about +40 ms on `import torch`). Code that a custom node runs inside the server can undo it;
  /// the gate, not this, is the boundary (docs/security.md).
  static let bindGuard = """
    # comfy-init's bind guard (written at every start; see Server.bindGuard in comfy-init's source).
    import socket as _comfy_init_socket


    def _comfy_init_is_loopback(host):
        if not isinstance(host, str):
            return False
        host = host.split("%", 1)[0].lower()
        return (host == "localhost" or host.startswith("127.") or host in ("::1", "0:0:0:0:0:0:0:1")
                or host.startswith("::ffff:127."))


    _comfy_init_plain_bind = _comfy_init_socket.socket.bind


    def _comfy_init_guarded_bind(self, address):
        if (self.family in (_comfy_init_socket.AF_INET, _comfy_init_socket.AF_INET6)
                and isinstance(address, tuple) and not _comfy_init_is_loopback(address[0])):
            raise PermissionError(
                13, "\(Server.bindGuardRefusal) %r; clients come in through the gate on COMFYUI_PORT" % (address[0],))
        return _comfy_init_plain_bind(self, address)


    _comfy_init_socket.socket.bind = _comfy_init_guarded_bind


    def _comfy_init_run_next_sitecustomize():
        # This file stands first on PYTHONPATH: run the sitecustomize it hides (a venv's, a test's).
        import os, sys
        here = os.path.dirname(os.path.abspath(__file__))
        for entry in sys.path:
            candidate = os.path.join(entry or ".", "sitecustomize.py")
            if os.path.abspath(entry or ".") != here and os.path.isfile(candidate):
                import importlib.util
                spec = importlib.util.spec_from_file_location("_comfy_init_next_sitecustomize", candidate)
                spec.loader.exec_module(importlib.util.module_from_spec(spec))
                return


    _comfy_init_run_next_sitecustomize()
    """
  static let bindGuardRefusal = "comfy-init bind guard: with auth on ComfyUI listens on loopback only, not"

  /// Writes the bind guard into the state folder and returns the server's environment with it on
  /// PYTHONPATH (first, so a venv's own sitecustomize cannot stand in for it; the guard then runs the
  /// one it hides).
  func environmentWithBindGuard() throws(InitError) -> [String: String] {
    var env = config.serverEnvironment
    guard config.auth == .login else { return env }
    let layout = config.layout
    let file = layout.bindGuardDir + "/sitecustomize.py"
    do {
      // A warm restart finds it in place: one read, no write.
      if FileSystem.readState(file) != Server.bindGuard {
        try FileSystem.makeDirectories(layout.bindGuardDir)
        try FileSystem.writeAtomically(file, Server.bindGuard, durable: false)
      }
    } catch {
      throw InitError(.filesystem, "cannot write the bind guard into \(layout.bindGuardDir): \(error)")
    }
    env["PYTHONPATH"] = [layout.bindGuardDir, env["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }
      .joined(separator: ":")
    return env
  }

  /// Runs the server until it exits; returns comfy-init's exit code (the server's, or 0 for a stop
  /// it obeyed). Throws when it cannot start, or was stopped because auth was not enforced.
  func supervise(extraArgs: [String]) throws(InitError) -> Int32 {
    do { try supervisor.throwIfStopped() } catch {
      Log.info("serve: \(Signals.name(error.signal)) arrived before the server started; not starting it")
      return 0
    }
    let layout = config.layout
    var options = SpawnOptions(environment: try environmentWithBindGuard())
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
      throw InitError(
        ExitCode(shellCode: error.shellCode),
        "\(error); the venv may be broken: delete \(layout.venvStamp) to reinstall")
    }
    reporter.report(.serving, pid: pid)
    let address = config.auth == .login ? "127.0.0.1:\(config.gate.internalPort)" : "\(config.listen):\(config.port)"
    Log.info("serve: started ComfyUI as pid \(pid) on \(address)")
    let policy = Supervisor.Policy(
      translate: [SIGTERM: config.stopSignal], stopTimeout: config.stopTimeout,
      repeatStopAfter: config.stopTimeout / 2)
    let outcome = supervisor.wait(for: pid, policy: policy, watch: ServerWatch(relays: relays, authGuard: authGuard))
    if let refused = outcome.refused { throw InitError(.authNotEnforced, refused) }
    let code = exitCode(for: outcome)
    reporter.report(.exited, detail: outcome.status.description)
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
      if case .password(let password) = config.credential?.secret { secrets.append(password) }
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

  /// COMFYUI_INIT=exec: become the server. Returns only by throwing, when exec failed.
  func exec(extraArgs: [String]) throws(InitError) -> Never {
    supervisor.signals.restoreForExec()
    let layout = config.layout
    guard chdir(layout.comfyDir) == 0 else {
      throw InitError(.filesystem, "cannot enter \(layout.comfyDir): \(String(cString: strerror(errno)))")
    }
    reporter.report(.serving, detail: "exec")
    Log.info("serve: exec ComfyUI on \(config.listen):\(config.port) (COMFYUI_INIT=exec)")
    let failure = ChildProcess.exec(command(extraArgs: extraArgs), environment: config.serverEnvironment)
    throw InitError(ExitCode(shellCode: failure.shellCode), "\(failure)")
  }
}
