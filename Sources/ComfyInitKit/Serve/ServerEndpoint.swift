// The server as comfy-init reaches it on this machine: the health check and the auth guard ask it.
import HTTPClient

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
    if config.auth == .login, let cert = config.gate.tlsCert {
      scheme = "https"
      pinnedCertificate = cert
    }
    // ComfyUI-Login checks a bearer token only when the CORS origin is unset, "*", or the request's Origin.
    let cors = ServerFlags.value(of: "--enable-cors-header", in: config.serverArgs)
    origin = cors.flatMap { $0.isEmpty || $0 == "*" ? nil : $0 }
  }

  /// "http" or "https" (the gate with COMFYUI_TLS_CERT).
  var scheme = "http"
  /// The certificate an https endpoint is checked against (the gate's own).
  var pinnedCertificate: String? = nil

  /// ComfyUI itself: behind the gate (auth on) on 127.0.0.1:COMFYUI_INTERNAL_PORT, else where clients connect.
  static func server(of config: Config) -> ServerEndpoint {
    var endpoint = ServerEndpoint(config: config)
    if config.auth == .login {
      endpoint.host = "127.0.0.1"
      endpoint.port = config.gate.internalPort
      endpoint.scheme = "http"
      endpoint.pinnedCertificate = nil
    }
    return endpoint
  }

  var base: String { "\(scheme)://\(host):\(port)" }
  var statsURL: String { base + "/system_stats" }

  /// The largest answer read: /system_stats is a few KB, and a server must not make a check allocate more.
  static let answerLimit = 256 << 10

  func getStats(token: String?, timeout: Double) throws(HTTPError) -> HTTPResponse {
    var headers: [(name: String, value: String)] = []
    if let token { headers.append(("Authorization", "Bearer " + token)) }
    if let origin { headers.append(("Origin", origin)) }
    var request = HTTPRequest(
      url: statsURL, headers: headers, timeout: timeout, connectTimeout: timeout, maxBodyBytes: Self.answerLimit)
    request.pinnedCertificate = pinnedCertificate
    return try HTTPClient.send(request)
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
