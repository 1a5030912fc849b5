// The requests of every auth check, each compared with the answer it expects: `validate`'s matrix,
// the auth gate after every start (Engine/AuthGate.swift) and `secrets rotate`'s session probe. They
// go out through ComfyAPI.exchange and never throw: a refused or failed request is a row's observation.
import AuthContract
import HTTPClient

/// The HTTP front end of every auth check (`validate`'s matrix, `up`'s gate): requests that never
/// throw, and rows comparing an answer with what was expected.
public struct AuthProbe: Sendable {
  public let baseURL: String
  public var timeout = 10.0

  public init(baseURL: String) {
    var url = baseURL
    while url.hasSuffix("/") { url.removeLast() }
    self.baseURL = url
  }

  /// The server refuses a caller without credentials: 401 for API clients, a redirect to /login for
  /// browsers. Docker's health check cannot tell (it authenticates), so `up` requires these too.
  public func checkAnonymousAccess() -> [ValidationRow] {
    let stats = baseURL + "/system_stats"
    let html = get(stats, headers: [("Accept", "text/html,application/xhtml+xml")])
    var rows = [
      expect("GET /system_stats without credentials", get(stats), status: 401),
      expect("GET /system_stats without credentials (Accept: text/html)", html, status: 302, location: "/login"),
    ]
    // What the real ComfyUI-Login leaves open: the gate must refuse each.
    for hole in LoginNodeHoles.requests(stem: "comfyctl-validate") {
      let name = "\(hole.method) \(hole.path) without credentials" + (hole.authorization.map { " (\($0))" } ?? "")
      let headers = hole.authorization.map { [(name: "Authorization", value: $0)] } ?? []
      rows.append(expect(name, send(hole.method, baseURL + hole.path, headers: headers), status: 401))
    }
    return rows
  }

  struct Outcome {
    var response: HTTPResponse?
    var error: String
  }

  func get(_ url: String, headers: [(name: String, value: String)] = []) -> Outcome {
    send(HTTPRequest(url: url, headers: headers, timeout: timeout))
  }

  func send(_ method: String, _ url: String, headers: [(name: String, value: String)] = []) -> Outcome {
    send(HTTPRequest(method: method, url: url, headers: headers, body: method == "POST" ? [] : nil, timeout: timeout))
  }

  func post(_ url: String, form: [String: String]) -> Outcome {
    let body = form.sorted { $0.key < $1.key }.map { percentEncode($0.key) + "=" + percentEncode($0.value) }
      .joined(separator: "&")
    return send(
      HTTPRequest(
        method: "POST", url: url, headers: [("Content-Type", "application/x-www-form-urlencoded")],
        body: Array(body.utf8), timeout: timeout))
  }

  private func send(_ request: HTTPRequest) -> Outcome {
    do {
      return Outcome(response: try ComfyAPI.exchange(request), error: "")
    } catch {
      return Outcome(response: nil, error: "no answer (\(error.message))")
    }
  }

  func expect(_ name: String, _ outcome: Outcome, status: Int, location: String? = nil) -> ValidationRow {
    let expected = location.map { "\(status) -> \($0)" } ?? "\(status)"
    guard let response = outcome.response else {
      return ValidationRow(name: name, expected: expected, observed: outcome.error, passed: false)
    }
    var observed = "\(response.status)"
    var passed = response.status == status
    if let location {
      let seen = response.header("Location").map(AuthProbe.path(of:)) ?? "(none)"
      observed += " -> \(seen)"
      passed = passed && seen == location
    }
    return ValidationRow(name: name, expected: expected, observed: observed, passed: passed)
  }

  /// "Cookie:" value from every Set-Cookie of a response ("name=value" parts only).
  static func cookieHeader(_ response: HTTPResponse) -> String {
    response.headers(named: "Set-Cookie").compactMap { $0.split(separator: ";").first.map(String.init) }
      .joined(separator: "; ")
  }

  /// "/login?x" from "http://host:port/login?x" or "/login?x".
  static func path(of location: String) -> String {
    guard let scheme = location.range(of: "://") else { return location }
    let rest = location[scheme.upperBound...]
    guard let slash = rest.firstIndex(of: "/") else { return "/" }
    return String(rest[slash...])
  }
}
