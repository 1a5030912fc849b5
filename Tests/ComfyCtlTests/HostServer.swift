// Real processes for comfyctl's tests: comfy-init serving the stand-in ComfyUI straight on this host
// (what `validate` talks to, no Docker needed), and children that run in the background (`logs -f`).
import Foundation
import Testing

@testable import ComfyCtlKit

/// A program running in the background, in a process group of its own (as a shell job), with both
/// outputs collected in a file.
final class BackgroundChild: @unchecked Sendable {
  let pid: pid_t
  let logPath: String
  private var exit: Spawn.ExitStatus?

  init(_ args: [String], environment: [String: String], log: String) throws {
    logPath = log
    let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    defer { close(fd) }
    var options = SpawnOptions(environment: environment)
    options.newProcessGroup = true
    options.stdoutFD = fd
    options.stderrFD = fd
    options.stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
    defer { close(options.stdinFD) }
    pid = try ChildProcess.spawn(args, options: options)
  }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  var isRunning: Bool {
    if exit == nil { exit = ChildProcess.exitStatusIfDone(pid) }
    return exit == nil
  }

  /// The exit, or nil when it still runs after `timeout` seconds.
  func wait(timeout: TimeInterval) -> Spawn.ExitStatus? {
    let deadline = Date().addingTimeInterval(timeout)
    while isRunning && Date() < deadline { usleep(10_000) }
    return exit
  }

  /// Polls until `condition` holds or `timeout` passes.
  func waitFor(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if condition() { return true }
      usleep(50_000)
    }
    return condition()
  }

  /// Everything it started that runs right now, children's children included (/proc/PID/task/*/children).
  var descendants: [pid_t] {
    var found: [pid_t] = []
    var queue = [pid]
    while let next = queue.popLast() {
      let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
      for task in tasks {
        let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
        let children = text.split(separator: " ").compactMap { pid_t($0) }
        found += children
        queue += children
      }
    }
    return found
  }

  /// SIGKILL to the whole group: whatever a failed test left running.
  func stop() {
    if isRunning {
      kill(-pid, SIGKILL)
      _ = wait(timeout: 30)
    }
  }

  deinit { stop() }
}

/// A process id that no longer names a live process (gone, or a zombie nobody reaped yet).
func isGone(_ pid: pid_t) -> Bool {
  guard kill(pid, 0) == 0 else { return true }
  let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
  // "PID (comm) STATE ...": the state follows the last ')'.
  guard let close = stat.lastIndex(of: ")") else { return true }
  return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
}

/// comfy-init serving the stand-in ComfyUI and ComfyUI-Login on 127.0.0.1, with the hash of a
/// comfyctl project as its credential file: the server `comfyctl validate --url` checks.
final class HostComfyUI: @unchecked Sendable {
  let tmp = TempDir("host-comfyui", prefix: "comfyctl")
  let port = freePort()
  let internalPort = freePort()
  var url: String { "http://127.0.0.1:\(port)" }
  private(set) var server: BackgroundChild?
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
    let child = try BackgroundChild(
      [CtlPaths.comfyInit, "run"], environment: environment(hashFile: hashFile, extra: extra),
      log: tmp.path + "/run-\(starts).log")
    server = child
    // With auth on the gate answers from the start (503 until comfy-init hands it the credential, and
    // /readyz 503 until ComfyUI answers behind it): wait for the server itself.
    let answering = child.waitFor(timeout: 300) {
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
