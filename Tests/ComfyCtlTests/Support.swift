// Test support for comfyctl: temporary projects, real processes, no mocks.
import Foundation
@_exported import TestSupport
import Testing

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

typealias RunResult = ProcessResult

/// Runs a program to completion with this process's environment plus `environment`.
@discardableResult
func runTool(
  _ args: [String], directory: String? = nil, environment: [String: String] = [:], stdin: String? = nil,
  timeout: TimeInterval = 600
) throws -> RunResult {
  try runProcess(
    args, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, directory: directory,
    stdin: stdin, timeout: timeout)
}

typealias CtlTempDir = TempDir

/// Files in a temporary project folder.
extension TempDir {
  func file(_ name: String) -> String { path + "/" + name }

  func write(_ name: String, _ text: String) {
    let full = file(name)
    try? FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
  }

  func read(_ name: String) -> String { (try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "" }
}

/// A project folder with the compose files and a project name of its own, so a test never touches
/// the developer's stack or secrets.
func makeProject(_ label: String) -> (CtlTempDir, Project) {
  let dir = CtlTempDir(label)
  try! FileManager.default.createDirectory(atPath: dir.file("compose"), withIntermediateDirectories: true)
  for name in ["docker-compose.yml", "docker-compose.cpu.yml"] {
    try! FileManager.default.copyItem(atPath: CtlPaths.root + "/compose/" + name, toPath: dir.file("compose/" + name))
  }
  dir.write(".env", "COMFYUI_PROJECT_NAME='comfyctl-\(label)-\(getpid())'\n")
  return (dir, Project(root: dir.path))
}

/// The Docker engine must answer; scripts/docker-engine starts it where it can. Skips only outside
/// CI: with CI=true a missing engine fails the test.
func requireDockerEngine() throws {
  if Docker.engineProblem() == nil { return }
  let start = try? runTool([CtlPaths.root + "/scripts/docker-engine"], timeout: 180)
  guard let problem = Docker.engineProblem() else { return }
  let reason = "the Docker engine cannot be started (\(problem)); \(start?.stderr.suffix(300) ?? "")"
  if ProcessInfo.processInfo.environment["CI"] == "true" {
    Issue.record("CI must run the Docker tests, but \(reason)")
    throw CtlError(.dockerUnavailable, reason)
  }
  try Test.cancel("skipped: \(reason)")
}

func mode(of path: String) -> mode_t? { FileOps.status(path)?.mode }
