// `comfy-init health`: Docker's HEALTHCHECK without curl in the image. With auth on, healthy means
// both sides hold: the token from login/PASSWORD opens GET /system_stats (200), and the same request
// without credentials is refused. Otherwise one line saying why.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

/// The server as a client on this machine reaches it: the address, the port, and the Origin that
/// ComfyUI-Login wants to see when --enable-cors-header names one.
struct ServerEndpoint {
  var host: String
  var port: Int
  var origin: String?

  init(config: Config) {
    let first = config.listen.split(separator: ",").first.map(String.init) ?? "127.0.0.1"
    switch first {
    case "0.0.0.0", "": host = "127.0.0.1"
    case "::", "[::]": host = "[::1]"
    default: host = first.contains(":") && !first.hasPrefix("[") ? "[\(first)]" : first
    }
    port = config.port
    // ComfyUI-Login checks a bearer token only when the CORS origin is unset, "*", or the request's Origin.
    let cors = ServerFlags.value(of: "--enable-cors-header", in: config.serverArgs)
    origin = cors.flatMap { $0.isEmpty || $0 == "*" ? nil : $0 }
  }

  var statsURL: String { "http://\(host):\(port)/system_stats" }

  /// The largest answer read: /system_stats is a few KB, and a server must not make a check allocate more.
  static let answerLimit = 256 << 10

  func getStats(token: String?, timeout: Double) throws(HTTPError) -> HTTPResponse {
    var headers: [(name: String, value: String)] = []
    if let token { headers.append(("Authorization", "Bearer " + token)) }
    if let origin { headers.append(("Origin", origin)) }
    return try HTTPClient.send(
      HTTPRequest(
        url: statsURL, headers: headers, timeout: timeout, connectTimeout: timeout, maxBodyBytes: Self.answerLimit))
  }

  enum Enforcement: Equatable {
    case enforced
    /// The status a request without credentials got.
    case notEnforced(Int)
    case unreachable(HTTPError.Kind, String)

    static func == (a: Enforcement, b: Enforcement) -> Bool {
      switch (a, b) {
      case (.enforced, .enforced): return true
      case (.notEnforced(let x), .notEnforced(let y)): return x == y
      case (.unreachable(let x, _), .unreachable(let y, _)): return x == y
      default: return false
      }
    }
  }

  /// Whether a request without credentials is refused the way ComfyUI-Login refuses it: 401, or a
  /// redirect to its login page.
  func checkEnforced(timeout: Double) -> Enforcement {
    do {
      let response = try getStats(token: nil, timeout: timeout)
      if response.status == 401 { return .enforced }
      if response.status == 302, let location = response.header("Location"), location.hasSuffix("/login") {
        return .enforced
      }
      return .notEnforced(response.status)
    } catch {
      return .unreachable(error.kind, error.message)
    }
  }
}

public struct HealthCheck {
  let config: Config
  let endpoint: ServerEndpoint
  let timeout: Double

  public init(config: Config, timeout: Double) {
    self.config = config
    endpoint = ServerEndpoint(config: config)
    self.timeout = timeout
  }

  /// (exit code, one line).
  public func run() -> (Int32, String) {
    let status = Status.read(home: config.home)
    if let status, !["serving", "exited", "failed", "bootstrapped"].contains(status.phase) {
      let elapsed = max(0, wallClockSeconds() - status.since)
      let detail = status.detail.isEmpty ? "" : ", \(status.detail)"
      let word = status.phase == "models" ? "provisioning" : "installing"
      return (1, "\(word): bootstrap phase \(status.phase) for \(elapsed) s\(detail)")
    }
    if let status, status.phase == "failed" { return (1, "failed: \(status.detail)") }
    var token: String? = nil
    if config.auth == .login {
      guard let text = FileSystem.read(config.passwordFile, noFollow: true).map({ String(decoding: $0, as: UTF8.self) })
      else {
        return (1, "no token: cannot read \(config.passwordFile) (\(String(cString: strerror(errno))))")
      }
      token = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
    let url = endpoint.statsURL
    do {
      let response = try endpoint.getStats(token: token, timeout: timeout)
      switch response.status {
      case 200:
        if config.auth == .login {
          let refusal = endpoint.checkEnforced(timeout: timeout)
          guard refusal == .enforced else { return (1, describeUnenforced(refusal)) }
        }
        let version = jsonString(response.text, key: "comfyui_version") ?? "?"
        let guarded = config.auth == .login ? ", auth enforced" : ""
        return (0, "ok: ComfyUI \(version) answers on port \(endpoint.port)\(guarded)")
      case 401, 403:
        return (
          1,
          "\(response.status): the server rejects the token in \(config.passwordFile); restart it after changing the password"
        )
      default:
        return (1, "\(response.status): unexpected answer from \(url)")
      }
    } catch {
      if error.kind == .refused {
        if let status, status.phase == "serving" {
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
