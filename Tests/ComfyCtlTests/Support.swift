// Test support for comfyctl: temporary projects, real processes, no mocks.
import Foundation

@testable import ComfyCtlKit

enum CtlPaths {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The comfyctl binary under test: COMFYCTL_BIN (scripts/test sets it), else the one built next
  /// to this test bundle, else dist/comfyctl.
  static let comfyctl: String? = {
    let env = ProcessInfo.processInfo.environment
    if let bin = env["COMFYCTL_BIN"], !bin.isEmpty { return bin }
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
      "comfyctl"
    ).path
    for candidate in [beside, root + "/.build-ctl/debug/comfyctl", root + "/dist/comfyctl"]
    where FileManager.default.isExecutableFile(atPath: candidate) {
      return candidate
    }
    return nil
  }()

  /// The static comfy-init the image bakes in.
  static let comfyInit: String = {
    if let bin = ProcessInfo.processInfo.environment["COMFY_INIT_BIN"], !bin.isEmpty { return bin }
    return root + "/dist/comfy-init"
  }()
}

struct RunResult {
  var status: Int32
  var stdout: String
  var stderr: String
  var seconds: Double
  var all: String { stdout + stderr }
}

/// Runs a program to completion, both outputs collected.
@discardableResult
func runTool(
  _ args: [String], directory: String? = nil, environment: [String: String] = [:], stdin: String? = nil,
  timeout: TimeInterval = 600
) throws -> RunResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: args[0])
  process.arguments = Array(args.dropFirst())
  var env = ProcessInfo.processInfo.environment
  for (key, value) in environment { env[key] = value }
  process.environment = env
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  let out = Pipe()
  let err = Pipe()
  let input = Pipe()
  process.standardOutput = out
  process.standardError = err
  process.standardInput = input
  let started = Date()
  try process.run()
  if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
  try input.fileHandleForWriting.close()
  nonisolated(unsafe) var outData = Data()
  nonisolated(unsafe) var errData = Data()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    outData = out.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  group.enter()
  DispatchQueue.global().async {
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { usleep(20_000) }
  if process.isRunning {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
  group.wait()
  return RunResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(started))
}

/// A fresh folder, removed at the end (unless COMFY_KEEP_TMP is set).
final class CtlTempDir: @unchecked Sendable {
  let path: String

  init(_ label: String) {
    let template = NSTemporaryDirectory() + "comfyctl-\(label)-XXXXXX"
    var bytes = Array(template.utf8CString)
    path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
  }

  func file(_ name: String) -> String { path + "/" + name }

  func write(_ name: String, _ text: String) {
    let full = file(name)
    try? FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
  }

  func read(_ name: String) -> String { (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "" }

  deinit {
    if ProcessInfo.processInfo.environment["COMFY_KEEP_TMP"] == nil {
      try? FileManager.default.removeItem(atPath: path)
    }
  }
}

/// A project folder with the compose files and a project name of its own, so a test never touches
/// the developer's stack or secrets.
func makeProject(_ label: String) -> (CtlTempDir, Project) {
  let dir = CtlTempDir(label)
  try! FileManager.default.createDirectory(atPath: dir.file("compose"), withIntermediateDirectories: true)
  for name in ["docker-compose.yml", "docker-compose.cpu.yml"] {
    try! FileManager.default.copyItem(atPath: CtlPaths.root + "/compose/" + name, toPath: dir.file("compose/" + name))
  }
  dir.write(".env", "COMPOSE_PROJECT_NAME='comfyctl-\(label)-\(getpid())'\n")
  return (dir, Project(root: dir.path))
}

func mode(of path: String) -> mode_t? { FileOps.status(path)?.mode }
