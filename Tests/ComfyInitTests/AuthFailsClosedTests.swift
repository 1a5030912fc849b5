// Issue 8: with auth on, the server never answers without credentials, whatever state the volumes
// are in; secrets stay out of children and out of reach of the server's uid.
import Foundation
import HTTPClient
import Testing

@testable import ComfyInitKit

/// Tries to connect to a port every millisecond from the moment it starts: did anything ever listen?
final class PortWatcher: @unchecked Sendable {
  private let port: Int
  private let lock = NSLock()
  private var connections = 0
  private var running = true
  private let stopped = DispatchSemaphore(value: 0)

  init(port: Int) {
    self.port = port
    // The thread holds the watcher until it has seen `running` go false: a watcher released right after
    // stop() (while a connect to a port that does listen is still under way) must not crash the tests.
    let thread = Thread { [self] in
      while self.isRunning {
        if self.connects() { self.lock.withLock { self.connections += 1 } }
        usleep(1000)  // the watch's pace, not a wait
      }
      self.stopped.signal()
    }
    thread.start()
  }

  private var isRunning: Bool { lock.withLock { running } }

  private func connects() -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  /// Stops watching; the number of connections that succeeded.
  func stop() -> Int {
    // Only the first stop waits for the thread: a second one (a `defer` after an explicit stop) would
    // wait for a signal that was already taken.
    let first = lock.withLock { () -> Bool in
      defer { running = false }
      return running
    }
    if first { stopped.wait() }  // a connect() under way counts too
    return lock.withLock { connections }
  }
}

/// Records every descendant of a process while it runs (every millisecond): once it has exited and
/// been reaped, /proc no longer says who its children were.
final class DescendantWatcher: @unchecked Sendable {
  private let lock = NSLock()
  private var seen: [Int32] = []
  private var running = true
  private let stopped = DispatchSemaphore(value: 0)

  init(of pid: Int32) {
    Thread.detachNewThread { [self] in
      while lock.withLock({ running }) {
        let found = descendants(of: pid)
        lock.withLock { seen += found.filter { !seen.contains($0) } }
        usleep(1000)  // the watch's pace, not a wait
      }
      stopped.signal()
    }
  }

  /// Stops watching; every descendant seen.
  func stop() -> [Int32] {
    lock.withLock { running = false }
    stopped.wait()
    return lock.withLock { seen }
  }
}

@Suite(.serialized) struct AuthFailsClosedTests {
  @Test func aLoginNodeThatFailsToImportStopsTheServerBeforeItListens() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    // ComfyUI's own port (the gate listens on h.port from the start, and refuses).
    let watcher = PortWatcher(port: h.internalPort)
    let server = try h.start(["STANDIN_LOGIN_BREAK": "import"])
    defer { server.stop() }
    let tree = DescendantWatcher(of: server.pid)
    let end = server.wait(timeout: 60)
    let connections = watcher.stop()
    let children = tree.stop()
    #expect(end?.status == 21, "\(server.log)")
    #expect(
      server.log.contains(
        "comfy-init: error: auth is on but ComfyUI-Login did not load (ImportError: cannot import name 'HTTPFound' from 'server'); the server was stopped before it listened"
      ), "\(server.log)")
    #expect(connections == 0, "something listened on the port \(connections) times")
    // The server and everything it started ended with comfy-init (a zombie its new parent has not
    // reaped yet counts as ended). The watch must have seen the server, or it proved nothing.
    #expect(!children.isEmpty, "no descendant of comfy-init was ever seen: \(server.log)")
    let alive = children.filter { processIsAlive($0) }
    for pid in alive { kill(pid, SIGKILL) }  // cleanup of a failed run only
    #expect(alive.isEmpty, "pids \(alive) outlived comfy-init")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 1 && health.stdout.contains("did not load"), "\(health.stdout)")
  }

  /// The bind guard alone, without comfy-init: on PYTHONPATH, the server cannot listen outside
  /// loopback (also after an in-place restart, which keeps the environment), and serves on loopback.
  @Test func theBindGuardAloneRefusesAnyListenOutsideLoopback() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let guardDir = h.tmp.path + "/bind-guard"
    try FileManager.default.createDirectory(atPath: guardDir, withIntermediateDirectories: true)
    try Server.bindGuard.write(toFile: guardDir + "/sitecustomize.py", atomically: true, encoding: .utf8)
    var env = h.environment
    env["PYTHONPATH"] = guardDir + ":" + (env["PYTHONPATH"] ?? "")
    let exposed = try startBare(h, env: env, listen: "0.0.0.0", label: "exposed")
    defer { exposed.stop() }
    let end = exposed.wait(timeout: 60)
    #expect(end != nil && end?.status != 0, "\(exposed.log)")
    // asyncio lower-cases the error's text ("error while attempting to bind on address ...: %s").
    #expect(exposed.log.lowercased().contains((Server.bindGuardRefusal + " '0.0.0.0'").lowercased()), "\(exposed.log)")
    // The guard hides the test's own sitecustomize (the call recorder) and must run it: the server's
    // start is recorded.
    h.resetCalls()
    let good = try startBare(h, env: env, listen: "127.0.0.1", label: "good")
    defer { good.stop() }
    #expect(waitForHTTP(h.baseURL + "/system_stats", while: good) != nil, "\(good.log)")
    #expect(h.recordedCalls.contains { $0.contains("main.py") }, "\(h.recordedCalls)")
  }

  @Test func aLoginNodeThatEnforcesNothingIsStoppedWhenTheServerFirstAnswers() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let server = try h.start(["STANDIN_LOGIN_BREAK": "noenforce"])
    defer { server.stop() }
    #expect(server.wait(timeout: 60)?.status == 21, "\(server.log)")
    #expect(
      server.log.contains(
        "auth is on but the server answered GET /system_stats without credentials with 200; the server was stopped"),
      "\(server.log)")
  }

  @Test func aWorkingLoginIsVerifiedAndHealthChecksBothSides() throws {
    let h = ComfyHome()
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(pollUntil { server.log.contains("auth: verified:") }, "\(server.log)")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 0 && health.stdout.contains("auth enforced"), "\(health.stdout)")
  }

  /// The health check alone, against a server nobody guards (started by hand): the token works, and so
  /// does no token, which must be unhealthy.
  @Test func healthIsUnhealthyWhenARequestWithoutCredentialsGetsIn() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    var env = h.environment
    env["STANDIN_LOGIN_BREAK"] = "noenforce"
    let server = try startBare(h, env: env, label: "bare")
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/system_stats", while: server) != nil, "\(server.log)")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 1, "\(health.stdout)")
    #expect(health.stdout.contains("auth not enforced: GET /system_stats without credentials answered 200"))
  }

  /// ComfyUI-Login checks a bearer token only when the request's Origin matches --enable-cors-header.
  @Test func healthSendsTheOriginThatTheCorsFlagNames() throws {
    let h = ComfyHome()
    h.extra["COMFYUI_ARGS"] = "--cpu --enable-cors-header https://studio.example"
    let server = try h.start()
    defer { server.stop() }
    #expect(pollUntil { server.log.contains("auth: verified:") }, "\(server.log)")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 0, "\(health.stdout) \(server.log)")
  }

  @Test func aStaleLoginNodeInAVolumeIsMovedBackToItsPinnedRef() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let login = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login"
    let pinned = try git(["-C", login, "rev-parse", "HEAD"])
    // What an old volume holds: the node at an older, incompatible commit, with a local edit on top.
    try checkOutOldLogin(in: login)
    try "# my note\n".write(toFile: login + "/requirements.txt", atomically: true, encoding: .utf8)
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(try git(["-C", login, "rev-parse", "HEAD"]) == pinned)
    #expect(server.log.contains("moving it to \(StandinRepos.loginRef)"), "\(server.log)")
    #expect(server.log.contains("local changes saved with `git stash`"), "\(server.log)")
    #expect(try git(["-C", login, "stash", "list"]).contains("comfy-init: local changes"))
    let open = try curl(h.baseURL + "/system_stats")
    #expect(open.status == 401)
  }

  @Test func aPinnedCustomNodeIsMovedBackAndAnUnpinnedOneIsLeftAlone() throws {
    let h = ComfyHome()
    h.extra["COMFYUI_CUSTOM_NODES"] =
      "file://\(StandinRepos.dir)/pinned.git@v1.0-standin,file://\(StandinRepos.dir)/loose.git"
    for name in ["pinned", "loose"] {
      _ = try git(["clone", "--quiet", "--bare", StandinRepos.dir + "/login-src", StandinRepos.dir + "/\(name).git"])
    }
    #expect(try h.bootstrap().status == 0)
    let nodes = h.home + "/ComfyUI/custom_nodes/"
    for name in ["pinned", "loose"] { try checkOutOldLogin(in: nodes + name) }
    let second = try h.bootstrap()
    #expect(second.status == 0, "\(second.stderr)")
    let v1 = try git(["-C", StandinRepos.dir + "/login-src", "rev-parse", "v1.0-standin"])
    let v09 = try git(["-C", StandinRepos.dir + "/login-src", "rev-parse", "v0.9-standin"])
    #expect(try git(["-C", nodes + "pinned", "rev-parse", "HEAD"]) == v1)
    #expect(try git(["-C", nodes + "loose", "rev-parse", "HEAD"]) == v09)
    #expect(second.stderr.contains("custom node pinned at"), "\(second.stderr)")
    #expect(!second.stderr.contains("custom node loose"), "an unpinned node may be at any commit")
  }

  @Test func theHubTokenAndCredentialPathsNeverReachTheServer() throws {
    let secrets = TempDir("secrets")
    try "hf_secret_token_file".write(toFile: secrets.path + "/hf", atomically: true, encoding: .utf8)
    try "a password\n".write(toFile: secrets.path + "/password", atomically: true, encoding: .utf8)
    let h = ComfyHome([
      "COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_FILE": secrets.path + "/password", "HF_TOKEN": "hf_secret_token_value",
      "HF_API_TOKEN": "hf_secret_api", "HF_TOKEN_FILE": secrets.path + "/hf",
    ])
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let python = try #require(serverPID(under: server.pid))
    let environ = try String(contentsOfFile: "/proc/\(python)/environ", encoding: .isoLatin1)
    for name in ["HF_TOKEN=", "HF_API_TOKEN=", "HF_TOKEN_FILE=", "COMFYUI_PASSWORD_FILE=", "COMFYUI_PASSWORD="] {
      #expect(!environ.contains(name), "\(name) reached the server")
    }
    #expect(!environ.contains("hf_secret"))
  }

  /// A server that keeps its output pipe full must not keep comfy-init from a stop: it ends within the grace.
  @Test func aServerThatNeverStopsWritingStillStopsOnSIGTERM() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    // The flood goes to /dev/null: hundreds of MB a second would fill a log file.
    let server = try BackgroundProcess(
      [Paths.comfyInit, "run"],
      environment: h.environment.merging(["STANDIN_FLOOD": "1", "COMFYUI_STOP_TIMEOUT": "6"]) { $1 },
      log: "/dev/null")
    defer { server.stop() }
    #expect(h.waitUntilServing(server))
    // The flood fills the pipe: wait until the server has written several times its 1 MiB.
    let python = try #require(serverPID(under: server.pid), "no server process")
    #expect(pollUntil { bytesWritten(by: python) > 8 << 20 }, "the server never flooded its output")
    let asked = Date()
    server.signal(SIGTERM)
    let end = server.wait(timeout: 20)
    let took = Date().timeIntervalSince(asked)
    #expect(end?.status == 0 && end?.signaled == false, "\(String(describing: end))")
    #expect(took < 6, "the stop took \(took) s, past the grace period: the relay starved the loop")
  }

  /// A server that answers the health check with a huge body: the check reads a capped amount and fails.
  @Test func aHugeHealthAnswerIsCapped() throws {
    let tmp = TempDir("huge")
    let port = freePort()
    let script = """
      import http.server, sys
      class H(http.server.BaseHTTPRequestHandler):
          def do_GET(self):
              self.send_response(200); self.send_header("Content-Length", str(64 << 20)); self.end_headers()
              chunk = b"x" * (1 << 20)
              try:
                  for _ in range(64): self.wfile.write(chunk)
              except Exception: pass
          def log_message(self, *a): pass
      http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
      """
    try script.write(toFile: tmp.path + "/huge.py", atomically: true, encoding: .utf8)
    let server = try BackgroundProcess(
      ["/usr/bin/env", "python3", tmp.path + "/huge.py", String(port)], environment: baseEnvironment(),
      log: tmp.path + "/huge.log")
    defer { server.stop() }
    #expect(pollUntil { (try? curl("http://127.0.0.1:\(port)/x", headers: ["Range: bytes=0-0"]))?.status ?? 0 > 0 })
    var env = baseEnvironment()
    env["COMFYUI_HOME"] = tmp.path + "/home"
    env["COMFYUI_AUTH"] = "none"
    env["COMFYUI_LISTEN"] = "127.0.0.1"
    env["COMFYUI_PORT"] = String(port)
    let health = try runProcess(["/usr/bin/time", "-f", "maxrss=%M", Paths.comfyInit, "health"], environment: env)
    #expect(health.status == 1, "\(health.stdout)")
    #expect(health.stdout.contains("is larger than 262144 bytes"), "\(health.stdout)")
    let rss = health.stderr.split(separator: "=").last.flatMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    #expect((rss ?? Int.max) < 64 * 1024, "health used \(rss ?? -1) KB")
  }

  /// The server runs as comfy-init's uid when comfy-init is not root: it must still not read comfy-init's
  /// environment (COMFYUI_PASSWORD given there) through /proc.
  @Test(.needs(.root)) func comfyInitsEnvironmentIsUnreadableToItsOwnUid() throws {  // to switch to another uid
    let tmp = TempDir("dumpable")
    chmod(tmp.path, 0o777)
    let asUser = ["/usr/bin/setpriv", "--reuid=4243", "--regid=4243", "--clear-groups"]
    var env = baseEnvironment()
    env["COMFYUI_PASSWORD"] = "never-readable"
    let initProcess = try BackgroundProcess(
      asUser + [Paths.comfyInit, "supervise", "--", "/bin/sleep", "60"], environment: env,
      log: tmp.path + "/init.log")
    defer { initProcess.stop() }
    #expect(pollUntil { !descendants(of: initProcess.pid).isEmpty })
    // setpriv execs comfy-init in place: the pid is comfy-init's.
    let own = try runProcess(asUser + ["/bin/cat", "/proc/\(initProcess.pid)/environ"], environment: baseEnvironment())
    #expect(own.status != 0 && !own.stdout.contains("never-readable"), "read: \(own.stdout)")
    // The same read works on the child (it is dumpable again after its exec): the check is real.
    let child = try #require(descendants(of: initProcess.pid).first)
    let childRead = try runProcess(asUser + ["/bin/cat", "/proc/\(child)/environ"], environment: baseEnvironment())
    #expect(childRead.status == 0, "\(childRead.stderr)")
  }
}

@Suite struct ParentDeathTests {
  /// comfy-init not PID 1, killed outright: its child must not live on unsupervised. Nobody but the kernel
  /// (the parent-death signal) kills it here.
  @Test func aChildDiesWithAComfyInitThatIsKilled() throws {
    let tmp = TempDir("pdeath")
    let initProcess = try BackgroundProcess(
      [Paths.comfyInit, "supervise", "--", "/bin/sleep", "300"], environment: baseEnvironment(),
      log: tmp.path + "/init.log")
    defer { initProcess.stop() }
    #expect(pollUntil { !descendants(of: initProcess.pid).isEmpty })
    let child = try #require(descendants(of: initProcess.pid).first)
    kill(initProcess.pid, SIGKILL)
    _ = initProcess.wait(timeout: 10)
    // Only comfy-init is killed: the child ends by the parent-death signal alone (a zombie its new
    // parent has not reaped yet counts as ended).
    let gone = pollUntil(5) { !processIsAlive(child) }
    if !gone { kill(child, SIGKILL) }  // cleanup of a failed run only
    #expect(gone, "pid \(child) outlived its killed comfy-init")
  }
}

@Suite struct LogRelayTests {
  let token = "$2b$12$" + String(repeating: "A", count: 53)

  /// Relays `input` through a LogRelay into a pipe and returns what came out.
  func relay(_ input: [UInt8], secrets: [String]) throws -> String {
    var inPipe: [Int32] = [-1, -1]
    var outPipe: [Int32] = [-1, -1]
    #expect(pipe(&inPipe) == 0 && pipe(&outPipe) == 0)
    _ = fcntl(outPipe[0], F_SETFL, fcntl(outPipe[0], F_GETFL) | O_NONBLOCK)
    var lines: [String] = []
    let relay = LogRelay(
      source: inPipe[0], destination: outPipe[1], secrets: secrets,
      observe: { lines.append(String(decoding: $0, as: UTF8.self)) })
    var output = [UInt8]()
    var offset = 0
    while offset < input.count {
      let n = input[offset...].withUnsafeBytes { write(inPipe[1], $0.baseAddress, min($0.count, 1000)) }
      offset += n
      _ = relay.pump()
      output += drain(outPipe[0])
    }
    close(inPipe[1])
    while relay.pump() {}
    output += drain(outPipe[0])
    close(outPipe[0])
    close(outPipe[1])
    return String(decoding: output, as: UTF8.self)
  }

  func drain(_ fd: Int32) -> [UInt8] {
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n <= 0 { return out }
      out += chunk[0..<n]
    }
  }

  @Test(arguments: [4000, 4096, 4100, 4150, 5000, 9000])
  func aSecretInALongLineIsRedactedWhereverTheCutFalls(prefix: Int) throws {
    let secrets = [token, percentEncode(token)]
    let text = String(repeating: "x", count: prefix) + token + String(repeating: "y", count: 10)
    let out = try relay(Array(text.utf8), secrets: secrets)
    #expect(!out.contains(token))
    #expect(!out.contains(String(token.prefix(20))))
    #expect(out.contains("<redacted>"))
    #expect(out.replacingOccurrences(of: "<redacted>", with: "").count == prefix + 10)
  }

  @Test func partialLinesTheURLEncodedTokenAndThePasswordAreRedacted() throws {
    let secrets = [token, percentEncode(token), "hunter2-password"]
    let input = "use token=\(percentEncode(token))&x\npass hunter2-pass" + "word here\r\nend \(token)"
    let out = try relay(Array(input.utf8), secrets: secrets)
    #expect(out == "use token=<redacted>&x\npass <redacted> here\r\nend <redacted>")
  }

  @Test func theObserverSeesEveryLineBeforeRedaction() throws {
    var inPipe: [Int32] = [-1, -1]
    #expect(pipe(&inPipe) == 0)
    var seen: [String] = []
    let relay = LogRelay(
      source: inPipe[0], destination: open("/dev/null", O_WRONLY), secrets: ["s3cret"],
      observe: { seen.append(String(decoding: $0, as: UTF8.self)) })
    _ = "one s3cret\ntwo\npartial".withCString { write(inPipe[1], $0, strlen($0)) }
    close(inPipe[1])
    while relay.pump() {}
    #expect(seen == ["one s3cret", "two", "partial"])
  }

  @Test func exceptionLinesAndTrailingPathsAreRecognised() {
    #expect(AuthGuard.isExceptionLine("ImportError: cannot import name 'HTTPFound' from 'server'"))
    #expect(AuthGuard.isExceptionLine("ModuleNotFoundError: No module named 'aiohttp_session'"))
    #expect(!AuthGuard.isExceptionLine("Traceback (most recent call last):"))
    #expect(!AuthGuard.isExceptionLine("To see the GUI go to: http://127.0.0.1:8188"))
    #expect(
      AuthGuard.withoutTrailingPath("cannot import name 'HTTPFound' from 'server' (/opt/comfyui/ComfyUI/server.py)")
        == "cannot import name 'HTTPFound' from 'server'")
    #expect(AuthGuard.withoutTrailingPath("x (not a path)") == "x (not a path)")
  }

  @Test func serverFlagsResolveLikeArgparse() throws {
    #expect(ServerFlags.resolve("--liste") == "--listen")
    #expect(ServerFlags.resolve("--por=1") == "--port")
    #expect(ServerFlags.resolve("--cpu") == "--cpu")
    #expect(ServerFlags.resolve("--disable-all") == "--disable-all-custom-nodes")
    #expect(ServerFlags.resolve("--disable") == nil)  // ambiguous: argparse refuses it itself
    #expect(ServerFlags.value(of: "--verbose", in: ["--verbose", "ERROR"]) == "ERROR")
    #expect(ServerFlags.value(of: "--verbose", in: ["--verb=critical"]) == "critical")
    #expect(ServerFlags.value(of: "--enable-cors-header", in: ["--enable-cors-header", "--cpu"]) == "")
    #expect(throws: InitError.self) { try ServerFlags.validate(["--base-dir", "/x"], auth: .login, source: "X") }
    try ServerFlags.validate(["--base-dir", "/x"], auth: .none, source: "X")
  }
}

/// The installed stand-in server started by hand, without comfy-init, as plain `python main.py` on the
/// home's client port.
func startBare(_ h: ComfyHome, env: [String: String], listen: String = "127.0.0.1", label: String) throws
  -> BackgroundProcess
{
  try BackgroundProcess(
    [h.home + "/venv/bin/python", "main.py", "--cpu", "--listen", listen, "--port", String(h.port)],
    environment: env, directory: h.home + "/ComfyUI", log: h.tmp.path + "/\(label).log")
}

/// Puts a checkout of the stand-in ComfyUI-Login at v0.9-standin, the old commit that no longer imports
/// (a shallow clone first fetches it).
func checkOutOldLogin(in dir: String) throws {
  try git(["-C", dir, "fetch", "--quiet", "file://" + StandinRepos.dir + "/login-src", "tag", "v0.9-standin"])
  try git(["-C", dir, "checkout", "--quiet", "v0.9-standin"])
}

@discardableResult
func git(_ args: [String]) throws -> String {
  var env = baseEnvironment()
  env["GIT_CONFIG_NOSYSTEM"] = "1"
  let r = try runProcess(["/usr/bin/git", "-c", "advice.detachedHead=false"] + args, environment: env)
  guard r.status == 0 else { throw GitFailed(message: "git \(args.joined(separator: " ")): \(r.stderr)") }
  return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

struct GitFailed: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
