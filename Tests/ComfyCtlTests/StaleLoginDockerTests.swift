// Issue 8 in a real container: with auth on, the server never answers a request without credentials,
// at any moment of a start, whatever the volumes hold.
//   A. A ComfyUI-Login that fails to import: comfy-init stops the server before it listens (exit 21).
//   B. The upgrade that once failed open: the custom_nodes volume keeps an old ComfyUI-Login that no
//      longer imports on the image's ComfyUI. The next start moves it back to its pinned ref and serves
//      with auth; validate passes.
import Foundation
import Testing

@testable import ComfyCtlKit

/// Sends `GET /system_stats` without credentials every 20 ms and keeps what every attempt got: the
/// HTTP status, 0 when nothing answered (refused, reset, timed out), -1 when curl could not even run.
/// An empty list means the poller never polled: no check may pass on it.
final class UnauthenticatedPoller: @unchecked Sendable {
  private let url: String
  private let lock = NSLock()
  private var statuses: [Int] = []
  private var running = true
  private let done = DispatchSemaphore(value: 0)

  init(url: String) {
    self.url = url
    Thread.detachNewThread { [self] in
      while lock.withLock({ running }) {
        let r = try? runTool(["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", url])
        // curl prints 000 when nothing answered (and exits non-zero).
        let code = r.flatMap { Int($0.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? -1
        lock.withLock { statuses.append(code) }
        usleep(20_000)
      }
      done.signal()
    }
  }

  /// Waits (up to `timeout` seconds) until an attempt got `status`; true when one did.
  func waitUntilSeen(_ status: Int, timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if lock.withLock({ statuses.contains(status) }) { return true }
      usleep(20_000)
    }
    return lock.withLock { statuses.contains(status) }
  }

  /// Stops polling; what every attempt got, in order.
  func stop() -> [Int] {
    lock.withLock { running = false }
    done.wait()
    return lock.withLock { statuses }
  }
}

@Suite(.serialized) struct StaleLoginDockerTests {
  @Test(.needs(.docker), .timeLimit(.minutes(15))) func theServerNeverAnswersWithoutCredentialsWhateverTheVolumesHold()
    throws
  {
    let e2e = EndToEndDockerTests()
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, names) = try e2e.makeStandinProject()
    let ctl = { (args: [String]) throws -> RunResult in
      try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
    }
    let loose = "comfyctl-broken-login-\(getpid())"
    defer {
      _ = try? runTool(["/usr/bin/env", "docker", "rm", "-f", loose])
      _ = try? ctl(["down", "--deep", "--models", "--yes"])
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", names.image])
    }
    #expect(try ctl(["secrets", "init"]).status == 0)
    let build = try ctl(["build", "--base-image", EndToEndDockerTests.baseImage, "--standin"])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")

    // A. ComfyUI-Login fails to import: the container ends with 21 and nothing ever answered.
    let aPort = e2e.freeTCPPort()
    let aPoller = UnauthenticatedPoller(url: "http://127.0.0.1:\(aPort)/system_stats")
    let run = try runTool([
      "/usr/bin/env", "docker", "run", "--name", loose, "-p", "127.0.0.1:\(aPort):8188",
      "-e", "STANDIN_LOGIN_BREAK=import", "-e", "COMFYUI_ARGS=--cpu",
      "-e", "COMFYUI_PASSWORD_HASH_FILE=/run/secrets/comfyui_password_hash",
      "-v", dir.file(".secrets/comfyui_password_hash") + ":/run/secrets/comfyui_password_hash:ro", names.image,
    ])
    let aStatuses = aPoller.stop()
    #expect(run.status == 21, "\(run.all.suffix(2000))")
    #expect(run.all.contains("auth is on but ComfyUI-Login did not load (ImportError"), "\(run.all.suffix(2000))")
    // Polled throughout, and nothing ever answered.
    #expect(!aStatuses.isEmpty, "the poller never polled")
    #expect(aStatuses.allSatisfy { $0 == 0 }, "the server answered without credentials: \(aStatuses)")

    // B. A first deployment, then its custom_nodes volume holds an old ComfyUI-Login.
    let up = try ctl(["up", "--cpu", "--wait-timeout", "180"])
    try #require(up.status == 0, "up failed: \(up.all)")
    let container = try serviceContainer("comfyui", in: dir.path)
    #expect(try runTool(["/usr/bin/env", "docker", "stop", container]).status == 0)
    let stale = try runTool([
      // The build's copies of the repos are not in the image: the tag comes from the stand-in repo on
      // the host (`build --standin` made it), mounted read-only and copied, so that the container's
      // user owns it (git refuses to fetch from a repository another user owns).
      "/usr/bin/env", "docker", "run", "--rm", "--volumes-from", container,
      "-v", dir.file(".cache/standin-repos/login-src") + ":/standin-login:ro", "--entrypoint", "/bin/sh", names.image,
      "-c",
      "cd /opt/comfyui/ComfyUI/custom_nodes/ComfyUI-Login"
        + " && cp -R /standin-login /tmp/login-src && git fetch -q file:///tmp/login-src tag v0.9-standin"
        + " && git -c advice.detachedHead=false checkout -q v0.9-standin && git rev-parse --short HEAD",
    ])
    try #require(stale.status == 0, "could not make the volume stale: \(stale.all)")

    let bPoller = UnauthenticatedPoller(url: "http://127.0.0.1:\(names.port)/system_stats")
    let again = try ctl(["up", "--cpu", "--wait-timeout", "180"])
    let answered = bPoller.waitUntilSeen(401, timeout: 10)
    let bStatuses = bPoller.stop()
    #expect(again.status == 0, "\(again.all)")
    // From nothing listening (0) to 401, and never anything else: the poller saw the server serve.
    #expect(answered, "the poller never saw the server answer: \(bStatuses)")
    #expect(!bStatuses.contains(200), "a request without credentials got 200 during the start: \(bStatuses)")
    #expect(bStatuses.allSatisfy { $0 == 0 || $0 == 401 }, "\(bStatuses)")
    let logs = try runTool(["/usr/bin/env", "docker", "logs", container])
    #expect(logs.all.contains("custom node ComfyUI-Login at"), "\(logs.all.suffix(3000))")
    #expect(logs.all.contains("moving it to v1.0-standin"), "\(logs.all.suffix(3000))")
    let validate = try ctl(["validate"])
    #expect(validate.status == 0, "\(validate.all)")
  }

  /// The poller itself, without Docker: a port where nothing listens gives one 0 per attempt (an empty
  /// list would pass "nothing answered"), and a server's answer is recorded as its status.
  @Test func thePollerRecordsEveryAttemptAlsoWhenNothingAnswers() throws {
    let silent = UnauthenticatedPoller(url: "http://127.0.0.1:\(freePort())/system_stats")
    usleep(300_000)
    let none = silent.stop()
    #expect(none.count >= 3, "\(none)")
    #expect(none.allSatisfy { $0 == 0 }, "\(none)")

    let tmp = TempDir("poller")
    let port = freePort()
    try """
    import http.server, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """.write(toFile: tmp.path + "/server.py", atomically: true, encoding: .utf8)
    let server = try BackgroundProcess(
      ["/usr/bin/env", "python3", tmp.path + "/server.py", String(port)], environment: HostComfyUI.baseEnvironment,
      log: tmp.path + "/server.log", newProcessGroup: true)
    defer { kill(server.pid, SIGKILL); _ = server.wait(timeout: 10) }
    let poller = UnauthenticatedPoller(url: "http://127.0.0.1:\(port)/system_stats")
    #expect(poller.waitUntilSeen(401, timeout: 20), "\(server.log)")
    #expect(poller.stop().allSatisfy { $0 == 0 || $0 == 401 })
  }

  /// The container of a compose service started from `projectDir`, whatever the project is named.
  func serviceContainer(_ service: String, in projectDir: String) throws -> String {
    let result = try runTool([
      "/usr/bin/env", "docker", "ps", "--all", "--quiet",
      "--filter", "label=com.docker.compose.project.working_dir=\(projectDir)",
      "--filter", "label=com.docker.compose.service=\(service)",
    ])
    return try #require(result.stdout.split(separator: "\n").first.map(String.init), "no \(service) container")
  }
}
