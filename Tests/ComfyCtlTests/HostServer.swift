// A real server for comfyctl's tests: comfy-init serving the stand-in ComfyUI straight on this host
// (what `validate` talks to, no Docker needed), in the background (TestSupport's BackgroundProcess).
import Foundation
import Testing

@testable import ComfyCtlKit

/// comfy-init serving the stand-in ComfyUI and ComfyUI-Login on 127.0.0.1, with the hash of a
/// comfyctl project as its credential file: the server `comfyctl validate --url` checks.
final class HostComfyUI: @unchecked Sendable {
  let tmp = TempDir("host-comfyui", prefix: "comfyctl")
  let port = freePort()
  let internalPort = freePort()
  var url: String { "http://127.0.0.1:\(port)" }
  private(set) var server: BackgroundProcess?
  private var starts = 0

  /// The stand-in repos, made once per instance.
  private lazy var repos: String = {
    let dir = tmp.path + "/repos"
    let made = try? runProcess(
      ["/bin/bash", CtlPaths.root + "/Tests/Fixtures/make-standin-repos.sh", CtlPaths.root + "/Tests/Fixtures", dir],
      environment: HostComfyUI.baseEnvironment)
    precondition(made?.status == 0, "make-standin-repos.sh failed: \(made?.all ?? "did not run")")
    return dir
  }()

  /// PATH and HOME only: the server never inherits the developer's COMFYUI_* or PIP_* settings.
  static var baseEnvironment: [String: String] {
    let env = ProcessInfo.processInfo.environment
    return ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": env["HOME"] ?? "/root", "LANG": "C.UTF-8"]
  }

  func environment(hashFile: String, extra: [String: String]) -> [String: String] {
    var env = HostComfyUI.baseEnvironment
    env["COMFYUI_HOME"] = tmp.path + "/home"
    env["COMFYUI_REPO"] = "file://" + repos + "/comfyui.git-src"
    env["COMFYUI_REF"] = "v0.8.0-standin"
    env["COMFYUI_LOGIN_REPO"] = "file://" + repos + "/login-src"
    env["COMFYUI_LOGIN_REF"] = "v1.0-standin"
    env["COMFYUI_LISTEN"] = "127.0.0.1"
    env["COMFYUI_PORT"] = String(port)
    // ComfyUI's own port behind the gate: never the shared default, which another server may hold.
    env["COMFYUI_INTERNAL_PORT"] = String(internalPort)
    env["COMFYUI_ARGS"] = "--cpu"
    env["COMFYUI_INSTALLER"] = "pip"
    env["COMFYUI_PASSWORD_HASH_FILE"] = hashFile
    env["PIP_FIND_LINKS"] = CtlPaths.root + "/.cache/wheels"
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_CACHE_DIR"] = "1"
    return env.merging(extra) { $1 }
  }

  /// Starts comfy-init (the first start bootstraps: clone, venv) and waits until the server answers
  /// (through the gate with auth on); fails the test with comfy-init's log when it does not.
  func start(hashFile: String, extra: [String: String] = [:]) throws {
    stop()
    starts += 1
    let child = try BackgroundProcess(
      [CtlPaths.comfyInit, "run"], environment: environment(hashFile: hashFile, extra: extra),
      log: tmp.path + "/run-\(starts).log", newProcessGroup: true)
    server = child
    // With auth on the gate answers from the start (503 until comfy-init hands it the credential, and
    // /readyz 503 until ComfyUI answers behind it): wait for the server itself.
    let answering = pollUntil(300, every: 0.05) {
      guard child.isRunning else { return true }
      let auth = extra["COMFYUI_AUTH"] ?? "login"
      return auth == "none" ? httpStatus(url + "/login") != nil : httpStatus(url + "/readyz") == 200
    }
    try #require(answering && child.isRunning, "comfy-init did not serve: \(child.log.suffix(3000))")
  }

  /// SIGTERM, as `docker stop` sends it; comfy-init stops the server and exits 0.
  func stop() {
    guard let server, server.isRunning else { return }
    kill(server.pid, SIGTERM)
    if server.wait(timeout: 30) == nil { server.stop() }
  }

  deinit { stop() }
}

/// The HTTP status at `url` (curl's command-line tool, independent of comfyctl's client); nil when
/// nothing answers.
func httpStatus(_ url: String) -> Int? {
  let result = try? runProcess(
    ["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url],
    environment: HostComfyUI.baseEnvironment, timeout: 10)
  guard let result, result.status == 0, let code = Int(result.stdout), code > 0 else { return nil }
  return code
}
