// `comfy-init health`: Docker's HEALTHCHECK without curl in the image. With auth on, healthy means
// both sides hold: the token from login/PASSWORD opens GET /system_stats (200), and the same request
// without credentials is refused. Otherwise one line saying why. A line about the driver's CUDA against
// torch's (CUDACompatibility) goes with it when they disagree.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

public struct HealthCheck {
  let config: Config
  let endpoint: ServerEndpoint
  let timeout: Double
  /// `health --progress`: the models phase's machine lines after the verdict (comfyctl draws them).
  let showProgress: Bool

  public init(config: Config, timeout: Double, showProgress: Bool = false) {
    self.config = config
    self.showProgress = showProgress
    endpoint = ServerEndpoint(config: config)
    self.timeout = timeout
  }

  /// (exit code, the lines to print): the server's state, and the CUDA verdict when there is one.
  /// A torch that cannot use this driver is unhealthy with its own exit code, whatever the server says.
  public func run(driverVersionFile: String = CUDACompatibility.driverVersionFile) -> (Int32, String) {
    let (code, line) = checkServer()
    let verdict = CUDACompatibility.verdict(config.layout, procFile: driverVersionFile)
    guard let cudaLine = verdict.line else { return (code, line) }
    // The last line is what `docker inspect` and comfyctl's progress show: the error when it fails
    // the check, the server's state when the CUDA line is only a warning.
    if case .incompatible = verdict { return (ExitCode.cudaIncompatible.rawValue, line + "\n" + cudaLine) }
    return (code, cudaLine + "\n" + line)
  }

  private func checkServer() -> (Int32, String) {
    let layout = config.layout
    let status = Status.read(layout)
    if let status, status.phase.isBootstrapping {
      let elapsed = max(0, wallClockSeconds() - status.since)
      let detail = status.detail.isEmpty ? "" : ", \(status.detail)"
      if status.phase == .models, !status.progress.isEmpty {
        // "provisioning 12.3/29.4 GB, 210 MB/s, ETA 1m21s", then the machine lines when asked.
        let lines = showProgress ? status.progress.map { "\n" + $0 }.joined() : ""
        return (1, "provisioning \(status.detail)" + lines)
      }
      let word = status.phase == .models ? "provisioning" : "installing"
      return (1, "\(word): bootstrap phase \(status.phase.rawValue) for \(elapsed) s\(detail)")
    }
    if let status, status.phase == .failed { return (1, "failed: \(status.detail)") }
    var token: String? = nil
    if config.auth == .login {
      guard let line = PasswordFile.token(at: layout.passwordFile, noFollow: true) else {
        return (1, "no token: cannot read \(layout.passwordFile) (\(String(cString: strerror(errno))))")
      }
      token = line
    }
    let url = endpoint.statsURL
    do {
      let response = try endpoint.getStats(token: token, timeout: timeout)
      switch response.status {
      case 200:
        var guarded = ""
        if config.auth == .login {
          let refusal = endpoint.checkEnforced(timeout: timeout)
          guard refusal == .enforced else { return (1, describeUnenforced(refusal)) }
          if let open = GateProbe(endpoint: endpoint, timeout: timeout).firstOpenRoute() { return (1, open) }
          if let exposed = GateProbe.serverReachableOutsideLoopback(port: config.gate.internalPort) {
            return (1, exposed)
          }
          guarded =
            ", auth enforced by the gate (\(GateProbe.routes.count + 1) routes refused without credentials; ComfyUI on loopback only)"
        }
        let version = jsonString(response.text, key: "comfyui_version") ?? "?"
        return (0, "ok: ComfyUI \(version) answers on port \(endpoint.port)\(guarded)")
      case 502 where config.auth == .login && status?.phase == .serving:
        // The gate answers; ComfyUI behind it does not listen yet (importing, or restarting in place).
        let elapsed = max(0, wallClockSeconds() - (status?.since ?? 0))
        return (
          1,
          "starting: server pid \(status?.pid ?? 0) up for \(elapsed) s, not listening on port \(config.gate.internalPort) yet (the gate answers on \(endpoint.port))"
        )
      case 401, 403:
        return (
          1,
          "\(response.status): the server rejects the token in \(layout.passwordFile); restart it after changing the password"
        )
      default:
        return (1, "\(response.status): unexpected answer from \(url)")
      }
    } catch {
      if error.kind == .refused {
        if let status, status.phase == .serving {
          let elapsed = max(0, wallClockSeconds() - status.since)
          return (
            1, "starting: server pid \(status.pid) up for \(elapsed) s, not listening on port \(endpoint.port) yet"
          )
        }
        return (1, "refused: nothing listens on \(endpoint.host):\(endpoint.port)")
      }
      if error.kind == .timeout { return (1, "timeout: no answer from \(url) within \(formatDuration(timeout))") }
      return (1, "error: \(error.message)")
    }
  }

  private func describeUnenforced(_ refusal: ServerEndpoint.Enforcement) -> String {
    switch refusal {
    case .notEnforced(let status):
      return "auth not enforced: GET /system_stats without credentials answered \(status), not 401"
    case .unreachable(_, let message):
      return "auth not verified: the request without credentials failed (\(message))"
    case .enforced:
      return "ok"
    }
  }
}

/// The string value of the first `"key": "value"` in a JSON text (enough for a version field).
func jsonString(_ json: String, key: String) -> String? {
  guard let keyRange = json.rangeOfSubstring("\"\(key)\"") else { return nil }
  var rest = json[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
  guard rest.first == "\"" else { return nil }
  rest = rest.dropFirst()
  guard let end = rest.firstIndex(of: "\"") else { return nil }
  return String(rest[..<end])
}
