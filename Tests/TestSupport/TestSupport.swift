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

/// A fresh folder under /tmp, removed when the test ends (unless COMFY_KEEP_TMP is set).
public final class TempDir: @unchecked Sendable {
  public let path: String

  public init(_ label: String = "t", prefix: String = "comfy-init") {
    let template = NSTemporaryDirectory() + "\(prefix)-\(label)-XXXXXX"
    var bytes = Array(template.utf8CString)
    path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
  }

  deinit {
    if ProcessInfo.processInfo.environment["COMFY_KEEP_TMP"] == nil {
      try? FileManager.default.removeItem(atPath: path)
    }
  }
}

/// A TCP port nobody listens on right now.
public func freePort() -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  addr.sin_port = 0
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
  }
  _ = withUnsafeMutablePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
  }
  return Int(UInt16(bigEndian: addr.sin_port))
}
