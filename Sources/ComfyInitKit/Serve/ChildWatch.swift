// What Supervisor.wait does besides waiting for a child: read what the child writes as it arrives,
// and end the child when a check fails. One value per kind of child: a tool whose output is
// collected (OutputCapture), the server whose output is relayed and guarded (ServerWatch in Server).
#if canImport(Glibc)
  import Glibc
#endif

protocol ChildWatch: AnyObject {
  /// Descriptors whose data should wake the wait.
  var wakeOn: [Int32] { get }
  /// The next moment `refusal` wants to be asked although nothing arrived (nil: none).
  var nextCheck: Instant? { get }
  /// Reads what arrived; asked after every wake.
  func readAvailable()
  /// A reason the child must be killed now (fail closed), asked after every wake while no stop is
  /// under way; `checking: false` once it was killed for another reason (no new probe is started).
  func refusal(checking: Bool) -> String?
  /// The child ended: take what is buffered without waiting for an end of file (grandchildren may
  /// hold the pipe open).
  func childEnded()
}

/// A tool's stdout, collected (ToolRunner's `capture`).
final class OutputCapture: ChildWatch {
  private var fd: Int32
  private(set) var bytes: [UInt8] = []

  /// `fd` is the read end of the child's stdout pipe; the caller closes it.
  init(fd: Int32) {
    self.fd = fd
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
  }

  var wakeOn: [Int32] { fd >= 0 ? [fd] : [] }
  var nextCheck: Instant? { nil }
  func readAvailable() { if fd >= 0, !appendAvailable() { fd = -1 } }
  func refusal(checking: Bool) -> String? { nil }
  func childEnded() { if fd >= 0 { _ = appendAvailable() } }

  /// Appends what can be read now; false at end of file.
  private func appendAvailable() -> Bool {
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n > 0 {
        bytes.append(contentsOf: chunk[0..<n])
        continue
      }
      if n == 0 { return false }
      return errno == EAGAIN || errno == EINTR
    }
  }
}

/// The server's stdout and stderr relayed to the container log with secrets cut out (LogRelay), and,
/// with auth on, the auth guard reading them and probing the server.
final class ServerWatch: ChildWatch {
  private var relays: [LogRelay]
  private let authGuard: AuthGuard?

  init(relays: [LogRelay], authGuard: AuthGuard?) {
    self.relays = relays
    self.authGuard = authGuard
  }

  var wakeOn: [Int32] { relays.map(\.source) }
  var nextCheck: Instant? { authGuard?.nextProbe }
  func readAvailable() { relays = relays.filter { $0.pump() } }

  func refusal(checking: Bool) -> String? {
    guard let authGuard else { return nil }
    if checking { authGuard.probeIfDue() }
    return authGuard.failure
  }

  func childEnded() { for relay in relays where relay.pump() { relay.flush() } }
}
