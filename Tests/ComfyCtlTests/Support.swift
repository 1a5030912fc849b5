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

  /// The gate the image gets beside comfy-init (dist/comfy-gateway, next to the comfy-init under test).
  static var comfyGateway: String {
    URL(fileURLWithPath: comfyInit).deletingLastPathComponent().appendingPathComponent("comfy-gateway").path
  }

  /// The static comfy-init the image bakes in.
  static let comfyInit: String = {
    if let bin = ProcessInfo.processInfo.environment["COMFY_INIT_BIN"], !bin.isEmpty { return bin }
    return root + "/dist/comfy-init"
  }()
}

typealias RunResult = ProcessResult

/// Runs a program to completion with the clean environment plus `environment`.
@discardableResult
func runTool(
  _ args: [String], directory: String? = nil, environment: [String: String] = [:], stdin: String? = nil,
  timeout: TimeInterval = 600
) throws -> RunResult {
  try runProcess(
    args, environment: CleanEnvironment.forChildren.merging(environment) { $1 }, directory: directory,
    stdin: stdin, timeout: timeout)
}

/// A test never acts on a real stack on the same host: comfyctl and Compose let COMPOSE_PROJECT_NAME,
/// COMFYUI_* and COMFYCTL_PROJECT_DIR from the environment win over a project's .env, so a developer's
/// exported settings would point a test's `down --deep` at their own deployment.
enum CleanEnvironment {
  /// What children get: only what finding programs and reaching the Docker engine needs.
  static let allowed = [
    "PATH", "HOME", "LANG", "TMPDIR", "USER", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY", "XDG_RUNTIME_DIR",
  ]

  static var forChildren: [String: String] {
    scrubThisProcess()
    let env = ProcessInfo.processInfo.environment
    var clean = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
    for key in allowed { if let value = env[key] { clean[key] = value } }
    return clean
  }

  /// Whether this process's own environment may steer comfyctl's code that the tests call in-process
  /// (Settings reads it, ProcessRunner passes it on).
  static func steers(_ key: String) -> Bool {
    key.hasPrefix("COMPOSE_") || key.hasPrefix("COMFYUI_") || key == "COMFYCTL_PROJECT_DIR"
  }

  /// Drops those variables from this process, before any test makes a project.
  static func scrubThisProcess() {
    for key in ProcessInfo.processInfo.environment.keys where steers(key) { unsetenv(key) }
  }
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
  CleanEnvironment.scrubThisProcess()
  let dir = CtlTempDir(label)
  try! FileManager.default.createDirectory(atPath: dir.file("compose"), withIntermediateDirectories: true)
  for name in ["docker-compose.yml", "docker-compose.cpu.yml"] {
    try! FileManager.default.copyItem(atPath: CtlPaths.root + "/compose/" + name, toPath: dir.file("compose/" + name))
  }
  dir.write(".env", "COMFYUI_PROJECT_NAME='comfyctl-\(label)-\(getpid())'\n")
  return (dir, Project(root: dir.path))
}

extension Requirement {
  /// A Docker engine that answers; scripts/docker-engine starts it where it can. Then the leftovers
  /// of crashed runs of these suites are swept.
  static let docker = Requirement("a Docker engine") {
    if Docker.engineProblem() != nil {
      _ = try? runTool([CtlPaths.root + "/scripts/docker-engine"], timeout: 180)
    }
    if let problem = Docker.engineProblem() { return "the Docker engine cannot be started (\(problem))" }
    DockerLeftovers.sweep()
    return nil
  }
}

/// Compose projects, containers, volumes and images these suites name after their process
/// (`comfyctl-LABEL-PID...`, `comfyui_comfyctl-LABEL-PID`, or a TempDir folder
/// `comfy-init-LABEL-pPID-XXXXXX`): a test removes its own in a defer, and what a crashed or killed
/// run left is removed by the next run, once its process is gone.
enum DockerLeftovers {
  /// The test process a Docker name belongs to, if it is one of ours.
  static func ownerPID(_ name: String) -> pid_t? {
    if name.hasPrefix("comfy-init-") { return TempDir.ownerPID(ofLeftover: name) }
    let name = name.hasPrefix("comfyui_") ? String(name.dropFirst(8)) : name
    guard name.hasPrefix("comfyctl-") else { return nil }
    return name.split(whereSeparator: { $0 == "-" || $0 == ":" }).lazy.compactMap { pid_t($0) }.first
  }

  static func sweep() {
    let docker = { (args: [String]) in (try? runTool(["/usr/bin/env", "docker"] + args, timeout: 120))?.stdout ?? "" }
    let lines = { (text: String) in text.split(separator: "\n").map(String.init) }
    let label = "com.docker.compose.project"
    var projects = Set<String>()
    for kind in [["ps", "-a"], ["volume", "ls"], ["network", "ls"]] {
      projects.formUnion(lines(docker(kind + ["--filter", "label=\(label)", "--format", "{{.Label \"\(label)\"}}"])))
    }
    for project in projects {
      guard let pid = ownerPID(project), !processIsAlive(pid) else { continue }
      print("sweeping the Docker project \(project) of a test run that is gone (pid \(pid))")
      let filter = ["--filter", "label=\(label)=\(project)"]
      let containers = lines(docker(["ps", "-aq"] + filter))
      if !containers.isEmpty { _ = docker(["rm", "-f", "-v"] + containers) }
      let volumes = lines(docker(["volume", "ls", "-q"] + filter))
      if !volumes.isEmpty { _ = docker(["volume", "rm", "-f"] + volumes) }
      let networks = lines(docker(["network", "ls", "-q"] + filter))
      if !networks.isEmpty { _ = docker(["network", "rm"] + networks) }
    }
    // Made by hand, outside a project: by name.
    for (list, remove) in [
      (["ps", "-a", "--format", "{{.Names}}"], ["rm", "-f", "-v"]),
      (["volume", "ls", "--format", "{{.Name}}"], ["volume", "rm", "-f"]),
      (["image", "ls", "comfyctl-e2e", "--format", "{{.Repository}}:{{.Tag}}"], ["image", "rm", "-f"]),
    ] {
      for name in lines(docker(list)) {
        guard let pid = ownerPID(name), !processIsAlive(pid) else { continue }
        _ = docker(remove + [name])
      }
    }
  }
}

func mode(of path: String) -> mode_t? { FileOps.status(path)?.mode }
