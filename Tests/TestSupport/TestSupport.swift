// What both test targets need: real processes with their output, temporary folders, free ports.
import Foundation
@_exported import Spawn

public struct ProcessResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  /// True when the process died by a signal (status then holds the signal number).
  public var signaled: Bool
  public var seconds: Double
  public var all: String { stdout + stderr }
}

/// Runs a program to completion with exactly `environment`, both outputs collected.
@discardableResult
public func runProcess(
  _ args: [String], environment: [String: String], directory: String? = nil, stdin: String? = nil,
  timeout: TimeInterval = 300
) throws -> ProcessResult {
  let started = Date()
  let result = try ChildProcess.run(
    args, environment: environment, directory: directory, stdin: Array((stdin ?? "").utf8), timeout: timeout)
  var status: Int32
  var signaled = false
  switch result.status {
  case .exited(let code): status = code
  case .signaled(let signal):
    status = signal
    signaled = true
  }
  return ProcessResult(
    status: status, stdout: String(decoding: result.stdout, as: UTF8.self),
    stderr: String(decoding: result.stderr, as: UTF8.self), signaled: signaled,
    seconds: Date().timeIntervalSince(started))
}

/// A fresh folder under /tmp, removed when the test ends, also when it fails or throws (unless
/// COMFY_KEEP_TMP is set). The name carries this process's pid, so that a later run can sweep what a
/// crashed one left (see `TempDir.sweepLeftovers`).
public final class TempDir: @unchecked Sendable {
  public let path: String

  public init(_ label: String = "t", prefix: String = "comfy-init") {
    TempDir.sweptOnce()
    let template = NSTemporaryDirectory() + "\(prefix)-\(label)-p\(getpid())-XXXXXX"
    var bytes = Array(template.utf8CString)
    path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
  }

  deinit {
    if ProcessInfo.processInfo.environment["COMFY_KEEP_TMP"] == nil {
      try? FileManager.default.removeItem(atPath: path)
    }
  }

  private static let sweep: Void = sweepLeftovers()
  private static func sweptOnce() { _ = sweep }

  /// Removes the folders of test processes that are gone (a crash, a kill, a timeout): names made by
  /// TempDir or StandinRepos (`comfy-init-LABEL-PID[-XXXXXX]`) whose PID no longer runs.
  public static func sweepLeftovers() {
    guard ProcessInfo.processInfo.environment["COMFY_KEEP_TMP"] == nil else { return }
    let tmp = NSTemporaryDirectory()
    for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
      guard let pid = ownerPID(ofLeftover: name), !processIsAlive(pid) else { continue }
      try? FileManager.default.removeItem(atPath: tmp + name)
    }
  }

  /// The test process a folder name belongs to: its `pPID` part (TempDir), or the PID that ends a
  /// StandinRepos folder (`comfy-init-standin-PID`).
  public static func ownerPID(ofLeftover name: String) -> pid_t? {
    guard name.hasPrefix("comfy-init-") else { return nil }
    let parts = name.split(separator: "-")
    if parts.count == 4, parts[2] == "standin" { return pid_t(parts[3]) }
    return parts.dropFirst(2).lazy.compactMap { $0.first == "p" ? pid_t($0.dropFirst()) : nil }.first
  }
}

/// A TCP port for a test server, reserved for this process: nobody listens on it now, no other test
/// of this process gets it, and no other test process on this host (another suite, another checkout)
/// gets it while this one runs.
///
/// Why not bind port 0 and close: the kernel hands that same ephemeral port to the next bind(0) or
/// outgoing connection, in this process or another, before the server under test binds it. Passing
/// the bound socket would need comfy-init and the stand-ins to accept one; retrying on EADDRINUSE
/// would need every test to tell that failure from a real one. So the ports come from below the
/// kernel's ephemeral range (bind(0) and connect() never pick them), each one held by a lock file in
/// a folder all test processes share: flock is released by the kernel when its holder exits, crash
/// included, so there are no stale reservations to clean up.
public func freePort() -> Int { PortAllocator.shared.next() }

final class PortAllocator: @unchecked Sendable {
  static let shared = PortAllocator()
  static let folder = "/tmp/comfy-init-test-ports"
  private let lock = NSLock()
  private var held: [Int: Int32] = [:]  // port -> lock file descriptor, open for the process's life
  private let range: ClosedRange<Int>
  private var cursor: Int

  init() {
    // The kernel's ephemeral range (default 32768-60999); ours is the 12000 ports below it.
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let low = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }.first
    let top = max(2000, (low ?? 32768) - 1)
    range = max(1024, top - 12000)...top
    cursor = range.lowerBound + Int(UInt32(truncatingIfNeeded: getpid()) % UInt32(range.count))
    mkdir(Self.folder, 0o1777)
    chmod(Self.folder, 0o1777)
  }

  func next() -> Int {
    lock.lock()
    defer { lock.unlock() }
    for _ in 0..<range.count {
      let port = cursor
      cursor = cursor == range.upperBound ? range.lowerBound : cursor + 1
      if held[port] != nil { continue }
      let fd = open(Self.folder + "/\(port)", O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
      if fd < 0 { continue }
      guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        close(fd)
        continue
      }
      // Another program (not a test) may listen there: both the loopback and the any address.
      guard Self.canBind(port, "127.0.0.1"), Self.canBind(port, "0.0.0.0") else {
        close(fd)
        continue
      }
      held[port] = fd
      return port
    }
    fatalError("no free TCP port in \(range)")
  }

  static func canBind(_ port: Int, _ address: String) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    // As the servers under test do: a TIME_WAIT from an earlier test's connection does not block.
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr(address)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
  }
}
