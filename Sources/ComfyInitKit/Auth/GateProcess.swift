// comfy-gateway as comfy-init runs it, with auth on: started first (before the long bootstrap, as
// root where comfy-init is root, becoming a uid other than the server's), handed the credential on a
// pipe once the auth phase has written it, and ended with comfy-init (the pipe's end of file). Its
// death is the container's end: Supervisor notices it (gateEnded) and stops everything, exit 23; it
// is never restarted behind a server that may have taken its port.
import CInit
import Digest

#if canImport(Glibc)
  import Glibc
#endif

final class GateProcess {
  let pid: pid_t
  /// The write end of the gate's stdin; -1 once closed.
  private var control: Int32

  private init(pid: pid_t, control: Int32) {
    self.pid = pid
    self.control = control
  }

  /// Starts the gate on COMFYUI_LISTEN:COMFYUI_PORT in front of 127.0.0.1:COMFYUI_INTERNAL_PORT.
  static func start(config: Config, supervisor: Supervisor) throws(InitError) -> GateProcess {
    let binary = config.gate.binaryPath
    guard FileSystem.isExecutable(binary) else {
      throw InitError(
        .gate,
        "auth is on, so the gate must run in front of ComfyUI, but \(binary) is not an executable comfy-gateway; install it beside comfy-init or set COMFYUI_GATEWAY"
      )
    }
    var arguments = [
      binary, "gate", "--listen", config.listen, "--port", String(config.port),
      "--upstream", "http://127.0.0.1:\(config.gate.internalPort)", "--credentials-fd", "0",
      "--session-max-age", String(config.gate.sessionMaxAge),
    ]
    if let cert = config.gate.tlsCert, let key = config.gate.tlsKey {
      arguments += ["--tls-cert", cert, "--tls-key", key]
    }
    for proxy in config.gate.trustedProxies { arguments += ["--trusted-proxy", proxy] }
    if config.guestMode { arguments.append("--guest-mode") }
    if getuid() == 0 {
      let gateUID = GateSettings.uid(besides: config.owner?.uid ?? 0)
      arguments += ["--user", "\(gateUID):\(gateUID)"]
    }
    var fds: [Int32] = [-1, -1]
    guard cinit_pipe_cloexec(&fds) == 0 else {
      throw InitError(.gate, "cannot make the gate's control pipe: \(String(cString: strerror(errno)))")
    }
    // The gate needs no environment of ours: no secret, no PYTHONPATH, no proxy settings.
    var options = SpawnOptions(environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"])
    options.stdinFD = fds[0]
    let pid: pid_t
    do {
      pid = try supervisor.start(arguments, options: options)
    } catch {
      close(fds[0])
      close(fds[1])
      throw InitError(.gate, "cannot start the gate \(binary): \(error)")
    }
    close(fds[0])
    supervisor.watchGate(pid)
    Log.info(
      "gate: comfy-gateway pid \(pid) serves \(config.listen):\(config.port); ComfyUI listens on 127.0.0.1:\(config.gate.internalPort) only"
    )
    return GateProcess(pid: pid, control: fds[1])
  }

  /// Hands the gate the credential in login/PASSWORD and the session key (made or renewed in the
  /// state folder). Until then it answers 503 to everything but its probes.
  func sendCredential(config: Config) throws(InitError) {
    let layout = config.layout
    guard let credential = PasswordFile.credential(at: layout.passwordFile, fallbackUser: config.username) else {
      throw InitError(
        .credential, "cannot read the token in \(layout.passwordFile) for the gate; check the file and restart")
    }
    let key = try GateProcess.sessionKey(layout, hash: credential.hash)
    let message = "user \(credential.user)\nhash \(credential.hash)\nsession-key \(hex(key))\ncommit\n"
    guard write(message) else {
      throw InitError(.gate, "the gate stopped before it got the credential; see its lines above")
    }
  }

  /// Ends the gate: the end of its control pipe stops it (it may run as another uid, which comfy-init,
  /// once it dropped to PUID, could not signal).
  func stop() {
    if control >= 0 {
      close(control)
      control = -1
    }
  }

  private func write(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.write(control, $0.baseAddress! + offset, bytes.count - offset) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return false }
      offset += n
    }
    return true
  }

  /// The session signing key in STATE/gate-session.key (0600): "SHA256(hash) KEY". A key made for
  /// another hash (the password changed) is replaced: every browser session ends with a rotation.
  static func sessionKey(_ layout: HomeLayout, hash: String) throws(InitError) -> [UInt8] {
    let fingerprint = SHA256.hexHash(hash)
    if let text = FileSystem.readState(layout.gateSessionKey) {
      let words = text.split(separator: " ")
      if words.count == 2, words[0] == fingerprint, let key = bytes(fromHex: String(words[1]).trimmingWhitespace()),
        key.count == 32
      {
        return key
      }
    }
    var key = [UInt8](repeating: 0, count: 32)
    var random = SystemRandomNumberGenerator()
    for i in 0..<key.count { key[i] = random.next() }
    do {
      try FileSystem.writeAtomically(layout.gateSessionKey, "\(fingerprint) \(hex(key))\n", mode: 0o600)
    } catch {
      throw InitError(.filesystem, "cannot write \(layout.gateSessionKey): \(error)")
    }
    Log.info("gate: new session key (a new password ends every browser session)")
    return key
  }
}
