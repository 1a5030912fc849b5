// `comfy-init health`: Docker's HEALTHCHECK without curl in the image. Exit 0 only when an
// authenticated GET /system_stats answers 200; otherwise one line saying why.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

public struct HealthCheck {
  public var home: String
  public var listen: String
  public var port: Int
  public var auth: AuthMode
  public var passwordFile: String
  public var timeout: Double

  public init(config: Config, timeout: Double) {
    home = config.home
    listen = config.listen
    port = config.port
    auth = config.auth
    passwordFile = config.passwordFile
    self.timeout = timeout
  }

  /// The address to ask: the listen address, or loopback when the server listens everywhere.
  var host: String {
    let first = listen.split(separator: ",").first.map(String.init) ?? "127.0.0.1"
    switch first {
    case "0.0.0.0", "": return "127.0.0.1"
    case "::", "[::]": return "[::1]"
    default: return first.contains(":") && !first.hasPrefix("[") ? "[\(first)]" : first
    }
  }

  /// (exit code, one line).
  public func run() -> (Int32, String) {
    let status = Status.read(home: home)
    if let status, !["serving", "exited", "failed", "bootstrapped"].contains(status.phase) {
      let elapsed = max(0, wallClockSeconds() - status.since)
      let detail = status.detail.isEmpty ? "" : ", \(status.detail)"
      let word = status.phase == "models" ? "provisioning" : "installing"
      return (1, "\(word): bootstrap phase \(status.phase) for \(elapsed) s\(detail)")
    }
    if let status, status.phase == "failed" { return (1, "failed: \(status.detail)") }
    var headers: [(name: String, value: String)] = []
    if auth == .login {
      guard let text = FileSystem.read(passwordFile, noFollow: true).map({ String(decoding: $0, as: UTF8.self) }) else {
        return (1, "no token: cannot read \(passwordFile) (\(String(cString: strerror(errno))))")
      }
      let token = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
      headers.append(("Authorization", "Bearer " + token))
    }
    let url = "http://\(host):\(port)/system_stats"
    let request = HTTPRequest(url: url, headers: headers, timeout: timeout, connectTimeout: timeout)
    do {
      let response = try HTTPClient.send(request)
      switch response.status {
      case 200:
        let version = jsonString(response.text, key: "comfyui_version") ?? "?"
        return (0, "ok: ComfyUI \(version) answers on port \(port)")
      case 401, 403:
        return (
          1,
          "\(response.status): the server rejects the token in \(passwordFile); restart it after changing the password"
        )
      default:
        return (1, "\(response.status): unexpected answer from \(url)")
      }
    } catch {
      if error.kind == .refused {
        if let status, status.phase == "serving" {
          let elapsed = max(0, wallClockSeconds() - status.since)
          return (1, "starting: server pid \(status.pid) up for \(elapsed) s, not listening on port \(port) yet")
        }
        return (1, "refused: nothing listens on \(host):\(port)")
      }
      if error.kind == .timeout { return (1, "timeout: no answer from \(url) within \(formatDuration(timeout))") }
      return (1, "error: \(error.message)")
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
