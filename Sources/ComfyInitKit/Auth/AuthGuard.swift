// With auth on, the server must never answer without credentials, whatever state the volumes are
// in. Two checks, both fail closed:
//   1. Before the port opens: ComfyUI imports every custom node before it listens, and says in its log
//      when one fails (nodes.py: "Cannot import PATH module for custom nodes: ERROR", "Skip PATH module
//      ...", "(IMPORT FAILED): PATH"). Such a line about ComfyUI-Login stops the server at once.
//   2. Once it answers: a request without credentials must be refused (401, or a redirect to /login).
// The supervisor's loop feeds the guard the server's log lines and asks it when to probe next.

final class AuthGuard {
  private let endpoint: ServerEndpoint
  /// How ComfyUI names the login node's folder in its messages ("…/custom_nodes/ComfyUI-Login").
  private let loginPath = "custom_nodes/" + Config.loginNodeName
  /// The last "SomeError: message" line, the end of the traceback ComfyUI logs before "Cannot import".
  private var lastException: String? = nil
  /// Why the server must be stopped; nil while all is well.
  private(set) var failure: String? = nil
  /// True once a request without credentials was refused.
  private(set) var verified = false
  /// True once the server answered anything (so it had opened its port).
  private var answered = false
  private(set) var nextProbe: Instant?
  private static let probeInterval = 0.1

  init(config: Config) {
    // ComfyUI itself on loopback: the gate in front refuses anyway, this checks ComfyUI-Login behind it.
    endpoint = ServerEndpoint.server(of: config)
    nextProbe = Instant.now().adding(seconds: AuthGuard.probeInterval)
  }

  /// One line of the server's output (stdout or stderr), before redaction.
  /// Read for the server's whole life, not only until the first verification: an in-place restart
  /// (ComfyUI-Manager's os.execv) imports the nodes again, and a login node broken by then must stop it too.
  func observe(_ bytes: ArraySlice<UInt8>) {
    guard failure == nil, !bytes.isEmpty else { return }
    let line = String(decoding: bytes, as: UTF8.self)
    if AuthGuard.isExceptionLine(line) { lastException = line }
    if line.rangeOfSubstring("To see the GUI go to:") != nil {
      // ComfyUI has just opened its port (again, after a restart): probe now rather than at the next tick.
      verified = false
      nextProbe = Instant.now()
      return
    }
    guard let reason = loginFailure(in: line) else { return }
    failure =
      "auth is on but ComfyUI-Login did not load (\(reason)); the server was stopped "
      + (answered ? "after it answered" : "before it listened")
  }

  /// Probes when due; afterwards `failure` or `verified` may be set.
  func probeIfDue() {
    guard failure == nil, !verified, let due = nextProbe, due.millisecondsFromNow == 0 else { return }
    switch endpoint.checkEnforced(timeout: 0.5) {
    case .enforced:
      answered = true
      verified = true
      nextProbe = nil
      Log.info("auth: verified: \(endpoint.statsURL) refuses a request without credentials")
    case .notEnforced(let status):
      answered = true
      failure =
        "auth is on but the server answered GET /system_stats without credentials with \(status); the server was stopped"
    case .unreachable:
      // Not listening yet (or busy): ask again shortly.
      nextProbe = Instant.now().adding(seconds: AuthGuard.probeInterval)
    }
  }

  /// The reason in a line that says ComfyUI-Login did not load, nil for any other line.
  private func loginFailure(in line: String) -> String? {
    guard let at = line.rangeOfSubstring(loginPath) else { return nil }
    // The folder itself, not "ComfyUI-Login-extras" or "ComfyUI-Login.disabled".
    let after = line[at.upperBound...]
    guard after.isEmpty || after.first == " " else { return nil }
    if line.rangeOfSubstring("Cannot import ") != nil, let cannot = line.rangeOfSubstring("module for custom nodes: ") {
      let message = String(line[cannot.upperBound...])
      let detail = lastException.flatMap { $0.hasSuffix(message) ? $0 : nil } ?? message
      return AuthGuard.withoutTrailingPath(detail)
    }
    if line.rangeOfSubstring("Skip ") != nil { return "it defines no NODE_CLASS_MAPPINGS" }
    if line.rangeOfSubstring("(IMPORT FAILED)") != nil { return "IMPORT FAILED" }
    return nil
  }

  /// "ImportError: cannot import name 'X' from 'server'" and the like: an identifier ending in Error or
  /// Exception, then ": ".
  static func isExceptionLine(_ line: String) -> Bool {
    guard let colon = line.rangeOfSubstring(": ") else { return false }
    let name = line[..<colon.lowerBound]
    return !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
      && (name.hasSuffix("Error") || name.hasSuffix("Exception"))
  }

  /// Python appends the module's file to import errors ("… from 'server' (/opt/…/server.py)"): drop it.
  static func withoutTrailingPath(_ text: String) -> String {
    guard text.hasSuffix(")"), let open = text.lastIndex(of: "("), open > text.startIndex,
      text[text.index(after: open)...].hasPrefix("/"), text[text.index(before: open)] == " "
    else { return text }
    return String(text[..<text.index(before: open)])
  }
}
