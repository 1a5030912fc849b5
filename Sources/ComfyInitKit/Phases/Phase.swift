// The phases comfy-init reports in the status file. The raw value is what the file holds (and what
// `comfy-init health` and comfyctl show), so a case is never renamed without a thought for readers
// of older files; renaming one here is a compile error everywhere it is used.

public enum Phase: String, CaseIterable, Sendable {
  // The bootstrap, in order (Bootstrap.run).
  case lock, source, nodes, venv, auth, models
  /// The bootstrap ended; nothing is serving (yet).
  case bootstrapped
  /// The server was started (its pid is in the status file).
  case serving
  /// The server ended, or a stop ended the work.
  case exited
  /// The bootstrap or the server failed; the detail says why.
  case failed

  /// True while the bootstrap is at work: health reports progress instead of asking the server.
  public var isBootstrapping: Bool {
    switch self {
    case .lock, .source, .nodes, .venv, .auth, .models: return true
    case .bootstrapped, .serving, .exited, .failed: return false
    }
  }

  /// True when no comfy-init is at work behind this status any more.
  public var isFinal: Bool { self == .exited || self == .failed }
}
