// A test never acts on a real stack on the same host: a developer's exported COMPOSE_PROJECT_NAME or
// COMFYUI_* would make comfyctl (and Compose) pick their deployment over the test's project.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct CleanEnvironmentTests {
  /// What a developer may have exported for their own stack, and a setting of another tool.
  static let exported = [
    "COMPOSE_PROJECT_NAME": "real-stack", "COMFYUI_PROJECT_NAME": "real-stack", "COMFYUI_HOST_PORT": "8188",
    "COMFYCTL_PROJECT_DIR": "/srv/real-stack", "PIP_INDEX_URL": "https://pypi.invalid/simple",
  ]

  /// comfyctl run as the tests run it, with a `docker` that records its arguments and environment:
  /// it sees the test project's name and none of the exported settings.
  @Test func comfyctlAndDockerNeverSeeTheDevelopersStackSettings() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, _) = makeProject("clean-env")
    let shims = dir.file("shims")
    try FileManager.default.createDirectory(atPath: shims, withIntermediateDirectories: true)
    dir.write(
      "shims/docker",
      """
      #!/bin/sh
      # A Docker engine that answers, runs nothing, and records every call with its environment.
      { echo "ARGS $*"; env | sed 's/^/ENV /'; } >>"$DOCKER_SHIM_LOG"
      case "$1 $2" in
        "info "*) echo 99.0.0 ;;
        "compose version") echo "Docker Compose version v2.99.0" ;;
      esac
      exit 0

      """)
    chmod(dir.file("shims/docker"), 0o755)
    for (key, value) in Self.exported { setenv(key, value, 1) }
    defer { for key in Self.exported.keys { unsetenv(key) } }

    let status = try runTool(
      [bin, "status", "--project-dir", dir.path],
      environment: [
        "PATH": shims + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
        "DOCKER_SHIM_LOG": dir.file("docker.log"),
      ])
    #expect(status.status == 0, "\(status.all)")
    #expect(status.stdout.contains("project comfyctl-clean-env-\(getpid()) ("), "\(status.all)")
    let calls = dir.read("docker.log")
    #expect(calls.contains("ARGS compose"), "comfyctl never ran Compose: \(calls)")
    #expect(calls.contains("--project-name comfyctl-clean-env-\(getpid()) "), "\(calls)")
    for key in Self.exported.keys { #expect(!calls.contains("ENV \(key)="), "docker saw \(key)") }
    #expect(!status.all.contains("real-stack"), "\(status.all)")
  }

  /// The tests also call comfyctl's code in this process (Settings reads the environment): once a
  /// project is made, the settings that would steer it are gone.
  @Test func comfyctlsCodeInThisProcessResolvesTheTestProject() throws {
    for (key, value) in Self.exported { setenv(key, value, 1) }
    defer { for key in Self.exported.keys { unsetenv(key) } }
    let (dir, project) = makeProject("clean-inproc")
    defer { withExtendedLifetime(dir) {} }  // the folder (and its .env) lives until the end
    let resolved = try ProjectName.resolve(settings: Settings(project: project), project: project)
    #expect(resolved.name == "comfyctl-clean-inproc-\(getpid())")
    #expect(ProcessInfo.processInfo.environment["COMPOSE_PROJECT_NAME"] == nil)
  }
}
