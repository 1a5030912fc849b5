// Issue 10: what README promises about comfy-init's command line and configuration, each checked
// against the real binary and the stand-in ComfyUI: the subcommands (version, --help,
// hash-password, health), how flags, COMFYUI_ARGS and `-- ARGS` reach the server, the credential
// sources, the legacy login switch with COMFYUI_INIT=exec, the home lock and the parent-death signal.
import Bcrypt
import Foundation
import Testing
import Version

@Suite(.serialized) struct CommandLineTests {
  // MARK: version, --help, hash-password

  @Test func versionAndHelpAnswerWithoutTouchingTheHome() throws {
    let tmp = TempDir("cli")
    let env = baseEnvironment().merging(["COMFYUI_HOME": tmp.path + "/home"]) { $1 }
    for args in [["version"], ["--version"]] {
      let r = try runProcess([Paths.comfyInit] + args, environment: env)
      #expect(r.status == 0, "\(args): \(r.stderr)")
      let words = r.stdout.split(separator: " ").map(String.init)
      #expect(words.count == 8 && words[0] == "comfy-init" && words[1] == Version.number, "\(args): \(r.stdout)")
      #expect(
        words.count > 3 && words[2] == "(commit" && isCommitID(String(words[3].dropLast())), "\(args): \(r.stdout)")
      #expect(r.stdout.hasSuffix(") ComfyUI v0.8.0 by default\n"), "\(args): \(r.stdout)")
    }
    for args in [["--help"], ["-h"], ["help"]] {
      let r = try runProcess([Paths.comfyInit] + args, environment: env)
      #expect(r.status == 0, "\(args): \(r.stderr)")
      for part in ["Usage:", "comfy-init health [--timeout S]", "comfy-init hash-password [--cost N]", "Exit codes:"] {
        #expect(r.stdout.contains(part), "\(args) lacks \(part)")
      }
    }
    #expect(!FileManager.default.fileExists(atPath: tmp.path + "/home"), "version or --help made the home")
  }

  @Test func hashPasswordPrintsABcryptHashOfStdinAndRefusesWhatBcryptCannotTake() throws {
    let env = baseEnvironment()
    let hashed = try runProcess([Paths.comfyInit, "hash-password"], environment: env, stdin: "a pass phrase\n")
    #expect(hashed.status == 0, "\(hashed.stderr)")
    let hash = hashed.stdout.trimmingCharacters(in: .newlines)
    #expect(hashed.stdout == hash + "\n" && hash.hasPrefix("$2b$12$") && Bcrypt.isWellFormed(hash), "\(hashed.stdout)")
    // The line end is not part of the password (also a Windows one).
    #expect(Bcrypt.verify(password: "a pass phrase", hash: hash))
    let cheap = try runProcess(
      [Paths.comfyInit, "hash-password", "--cost", "4"], environment: env, stdin: "crlf\r\n")
    #expect(cheap.status == 0 && cheap.stdout.hasPrefix("$2b$04$"), "\(cheap.stdout) \(cheap.stderr)")
    #expect(Bcrypt.verify(password: "crlf", hash: cheap.stdout.trimmingCharacters(in: .newlines)))
    let longest = try runProcess(
      [Paths.comfyInit, "hash-password", "--cost", "4"], environment: env, stdin: String(repeating: "x", count: 72))
    #expect(longest.status == 0, "\(longest.stderr)")
    for (input, args, code) in [
      ("", [String](), Int32(11)), ("\n", [], 11), (String(repeating: "x", count: 73), [], 11),
      ("pw", ["--cost"], 2), ("pw", ["--cost", "many"], 2), ("pw", ["--password", "pw"], 2),
    ] {
      let r = try runProcess([Paths.comfyInit, "hash-password"] + args, environment: env, stdin: input)
      #expect(r.status == code, "\(args) \(input.count) bytes: \(r.stderr)")
      #expect(r.stdout.isEmpty, "\(args): printed \(r.stdout)")
      #expect(r.stderr.contains(code == 11 ? "1 to 72 bytes" : "usage: comfy-init hash-password"), "\(r.stderr)")
    }
  }

  // MARK: credentials

  /// COMFYUI_PASSWORD_FILE and COMFYUI_PASSWORD_HASH (made by `hash-password`) each open the login form
  /// with their password, and only with theirs.
  @Test func aPasswordFileAndAHashFromHashPasswordEachOpenTheLoginForm() throws {
    let h = ComfyHome(["COMFYUI_PASSWORD": ""])
    let file = h.tmp.path + "/password"
    // Written on Windows: the CRLF is not part of the password.
    try "from the file\r\n".write(toFile: file, atomically: true, encoding: .utf8)
    let first = try h.start(["COMFYUI_PASSWORD_FILE": file], label: "file")
    defer { first.stop() }
    #expect(h.waitUntilServing(first), "\(first.log)")
    #expect(Bcrypt.verify(password: "from the file", hash: h.token), "the file's line end was hashed too")
    #expect(try logIn(h, "from the file"), "the password from the file does not open the login form")
    first.signal(SIGTERM)
    #expect(first.wait(timeout: 20)?.status == 0, "\(first.log)")

    let made = try runProcess(
      [Paths.comfyInit, "hash-password", "--cost", "4"], environment: h.environment, stdin: "hashed")
    let hash = made.stdout.trimmingCharacters(in: .newlines)
    let second = try h.start(["COMFYUI_PASSWORD_HASH": hash], label: "hash")
    defer { second.stop() }
    #expect(h.waitUntilServing(second), "\(second.log)")
    #expect(try String(contentsOfFile: h.passwordFile, encoding: .utf8) == hash + "\nadmin", "not written verbatim")
    #expect(try logIn(h, "hashed"))
    #expect(try !logIn(h, "from the file"), "the old password still opens the login form")
  }

  /// A login/PASSWORD edited on Windows (CRLF) still serves without a credential: comfy-init reads
  /// line 1 without the CR, rewrites the file clean, and health's token is the hash alone.
  @Test func aPasswordFileWithWindowsLineEndsIsReadAndNormalised() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let hash = h.token
    try (hash + "\r\nadmin\r\n").write(toFile: h.passwordFile, atomically: true, encoding: .utf8)
    let server = try h.start(["COMFYUI_PASSWORD": ""])
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(server.log.contains("without stray CR/newline characters (same hash)"), "\(server.log)")
    #expect(try String(contentsOfFile: h.passwordFile, encoding: .utf8) == hash + "\nadmin")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 0, "\(health.stdout)")
  }

  /// The legacy COMFYUI_LOGIN_ENABLED=false is COMFYUI_AUTH=none: no credential needed, no login, and
  /// so COMFYUI_INIT=exec is allowed: comfy-init becomes the server (same pid, no child), and a
  /// SIGTERM reaches the server itself, untranslated (the stand-in has no handler for it).
  @Test func theLegacyLoginSwitchTurnsAuthOffAndExecReplacesComfyInitWithTheServer() throws {
    let h = ComfyHome(["COMFYUI_PASSWORD": "", "COMFYUI_LOGIN_ENABLED": "false", "COMFYUI_INIT": "exec"])
    let server = try h.start()
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/system_stats", while: server) != nil, "\(server.log)")
    #expect(try curl(h.baseURL + "/system_stats").status == 200, "auth is still on")
    #expect(!FileManager.default.fileExists(atPath: h.home + "/ComfyUI/custom_nodes/ComfyUI-Login/__init__.py"))
    let argv = try commandLine(of: server.pid)
    #expect(argv.first == h.home + "/venv/bin/python" && argv.dropFirst().first == "main.py", "\(argv)")
    #expect(descendants(of: server.pid).isEmpty, "comfy-init stayed as a parent")
    #expect(server.log.contains("serve: exec ComfyUI"), "\(server.log)")
    #expect(h.phase == "serving")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(
      health.status == 0 && health.stdout.hasPrefix("ok: ") && !health.stdout.contains("auth"), "\(health.stdout)")
    server.signal(SIGTERM)
    let end = server.wait(timeout: 20)
    #expect(end?.signaled == true && end?.status == SIGTERM, "\(String(describing: end)) \(server.log)")
  }

  // MARK: how arguments reach the server

  /// `--name value` wins over the environment (COMFYUI_ARGS would make argparse fail, the other
  /// port and address would serve elsewhere); COMFYUI_ARGS is split like a shell (quotes kept inside
  /// a word); `-- ARGS` come last. What the server's own sys.argv holds is what counts.
  @Test func flagsCOMFYUIARGSAndServerArgumentsReachTheServersArgv() throws {
    let h = ComfyHome()
    let output = h.tmp.path + "/out dir"
    let temp = h.tmp.path + "/it's temp"
    for dir in [output, temp] {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    let environment = [
      "COMFYUI_ARGS": "--no-such-flag", "COMFYUI_PORT": String(freePort()), "COMFYUI_LISTEN": "0.0.0.0",
    ]
    let args = [
      "run", "--listen", "127.0.0.1", "--port", String(h.port),
      "--args", "--cpu --output-directory '\(output)'  --temp-directory \"\(temp)\"", "--", "--max-upload-size", "50",
    ]
    let server = try h.start(environment, args: args)
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let python = try #require(serverPID(under: server.pid))
    // With auth on, python runs main.py on loopback at the internal port; the flags' address is the gate's.
    let argv = try commandLine(of: python)
    let main = try #require(argv.firstIndex(of: "main.py"), "\(argv)")
    #expect(
      Array(argv[main...]) == [
        "main.py", "--listen", "127.0.0.1", "--port", String(h.internalPort), "--cpu", "--output-directory", output,
        "--temp-directory", temp, "--max-upload-size", "50",
      ], "\(argv)")
    #expect(server.log.contains("Setting output directory to: \(output)"), "the server did not read the quoted word")
  }

  // MARK: health

  /// Every way `comfy-init health` answers "unhealthy" (exit 1, one line saying why), in the order a
  /// container lives through them. (A server that lets a request without credentials in:
  /// AuthFailsClosedTests.healthIsUnhealthyWhenARequestWithoutCredentialsGetsIn; provisioning:
  /// ProvisioningTests.)
  @Test func healthSaysWhyItIsUnhealthyAtEveryStage() throws {
    let h = ComfyHome()
    func health(_ args: [String] = []) throws -> ProcessResult {
      try runProcess([Paths.comfyInit, "health"] + args, environment: h.environment, timeout: 30)
    }
    func expectUnhealthy(_ prefix: String, _ line: Comment) throws {
      let r = try health()
      #expect(r.status == 1 && r.stdout.hasPrefix(prefix), "\(line): \(r.stdout) \(r.stderr)")
      #expect(r.stdout.split(separator: "\n").count == 1, "\(line): more than one line: \(r.stdout)")
    }
    try expectUnhealthy("no token: cannot read \(h.passwordFile)", "nothing installed yet")

    let slow = try h.start(
      ["COMFY_TEST_SLOW_CLONE": "60", "COMFY_TEST_SLOW_CLONE_MATCH": "comfyui.git-src"], args: ["bootstrap"],
      label: "slow")
    defer { killTree(slow) }
    #expect(pollUntil(60) { h.phase == "source" }, "\(slow.log)")
    try expectUnhealthy("installing: bootstrap phase source for ", "during the bootstrap")
    killTree(slow)

    #expect(try h.bootstrap().status == 0)
    try expectUnhealthy("refused: nothing listens on 127.0.0.1:\(h.port)", "bootstrapped, no server")

    let starting = try h.start(["STANDIN_IMPORT_DELAY": "60"], label: "starting")
    defer { starting.stop() }
    #expect(pollUntil(60) { h.phase == "serving" }, "\(starting.log)")
    let child = serverPID(under: starting.pid) ?? -1
    try expectUnhealthy("starting: server pid \(child) up for ", "the server has not bound its port yet")
    starting.signal(SIGTERM)
    #expect(starting.wait(timeout: 20) != nil)

    let server = try h.start(label: "serving")
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(try health().status == 0)
    // A new PASSWORD the running server has not read: its token is refused.
    let another = try Bcrypt.hash(password: "changed", cost: 4)
    try (another + "\nadmin").write(toFile: h.passwordFile, atomically: true, encoding: .utf8)
    try expectUnhealthy(
      "401: the server rejects the token in \(h.passwordFile); restart it after changing the password",
      "a token the server does not know")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 20)?.status == 0)

    let failed = try h.bootstrap(["COMFYUI_CUSTOM_NODES": "file:///nonexistent/Broken.git"])
    #expect(failed.status == 18)
    try expectUnhealthy("failed: cannot clone custom node Broken", "after a failed bootstrap")

    for args in [["--timeout"], ["--timeout", "0"], ["--timeout", "soon"], ["--bogus"]] {
      let r = try health(args)
      #expect(r.status == 2 && r.stderr.contains("usage: comfy-init health [--timeout SECONDS]"), "\(args): \(r.all)")
    }
  }

  /// A server that accepts the connection and never answers: health gives up after --timeout
  /// seconds (5 by default), not much later and not before.
  @Test(arguments: [(["--timeout", "1"], 1.0), (["--timeout", "2.5"], 2.5), ([], 5.0)])
  func healthGivesUpAfterItsTimeout(args: [String], seconds: Double) throws {
    let silent = try SilentListener()
    defer { silent.close() }
    let env = baseEnvironment().merging([
      "COMFYUI_HOME": TempDir("silent").path, "COMFYUI_AUTH": "none", "COMFYUI_LISTEN": "127.0.0.1",
      "COMFYUI_PORT": String(silent.port),
    ]) { $1 }
    let started = Date()
    let r = try runProcess([Paths.comfyInit, "health"] + args, environment: env, timeout: 30)
    let elapsed = Date().timeIntervalSince(started)
    #expect(r.status == 1, "\(r.all)")
    #expect(
      r.stdout.hasPrefix("timeout: no answer from http://127.0.0.1:\(silent.port)/system_stats within "), "\(r.stdout)")
    #expect(elapsed >= seconds - 0.1 && elapsed < seconds * 1.5 + 0.5, "gave up after \(elapsed) s, not \(seconds) s")
  }

  // MARK: the home lock

  /// A second comfy-init on the same home waits while the first installs, runs nothing meanwhile, and
  /// a stop ends its wait at once with exit 0 (a stop we asked for), leaving the first at work.
  @Test func aSecondInstanceWaitsForTheLockAndAStopEndsItsWait() throws {
    let h = ComfyHome()
    let slow = ["COMFY_TEST_SLOW_CLONE": "60", "COMFY_TEST_SLOW_CLONE_MATCH": "comfyui.git-src"]
    let first = try h.start(slow, args: ["bootstrap"], label: "first")
    defer { killTree(first) }
    // The first one's clone is recorded (the shim then sleeps): from here on the calls log stays still.
    #expect(pollUntil(60) { h.recordedCalls.contains { $0.contains(" clone ") } }, "\(first.log)")
    let callsBefore = h.recordedCalls
    let second = try h.start(args: ["run"], label: "second")
    defer { killTree(second) }
    let waiting = "lock: another comfy-init (pid \(first.pid)) is installing into this home; waiting for it"
    #expect(pollUntil(30) { second.log.contains(waiting) }, "\(second.log)")
    #expect(second.isRunning && first.isRunning)
    #expect(h.recordedCalls == callsBefore, "the waiting instance ran \(h.recordedCalls)")
    let stopped = Date()
    second.signal(SIGTERM)
    let end = second.wait(timeout: 10)
    #expect(end?.status == 0 && end?.signaled == false, "\(String(describing: end)) \(second.log)")
    #expect(Date().timeIntervalSince(stopped) < 2, "the stop took \(Date().timeIntervalSince(stopped)) s")
    #expect(second.log.contains("SIGTERM during the bootstrap: stopped"), "\(second.log)")
    #expect(first.isRunning, "the second instance's stop ended the first")
    #expect(h.phase == "source", "the waiting instance wrote the status")
  }

  /// Exit 13: a lock file that cannot be opened as a plain file (here a link) is never followed.
  @Test func aLockThatCannotBeOpenedGivesExit13AndIsNotFollowed() throws {
    let h = ComfyHome()
    try FileManager.default.createDirectory(atPath: h.home + "/.comfy-init", withIntermediateDirectories: true)
    let target = h.tmp.path + "/not-the-lock"
    symlink(target, h.home + "/.comfy-init/lock")
    let r = try h.bootstrap()
    #expect(r.status == 13, "\(r.stderr)")
    let errors = r.stderr.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
    #expect(
      errors.count == 1 && errors[0].contains("make COMFYUI_HOME writable and the lock a plain file"), "\(errors)")
    #expect(!FileManager.default.fileExists(atPath: target), "the lock was opened through the link")
    #expect(h.recordedCalls.isEmpty, "ran \(h.recordedCalls)")
  }

  // MARK: the parent-death signal

  /// comfy-init killed outright (SIGKILL: no chance to stop anything) must not leave a server behind
  /// serving without its auth guard: the kernel's parent-death signal ends it. The test kills only
  /// comfy-init.
  @Test func theServerDiesWithAComfyInitThatIsKilled() throws {
    let h = ComfyHome()
    let server = try h.start()
    defer { killTree(server) }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let python = try #require(serverPID(under: server.pid))
    kill(server.pid, SIGKILL)
    _ = server.wait(timeout: 10)
    #expect(pollUntil(10) { !processIsAlive(python) }, "the server (pid \(python)) outlived comfy-init")
    #expect(try curl(h.baseURL + "/system_stats").status == 0, "something still answers on the port")
  }
}

/// What scripts/build injects ("abc1234", "abc1234-dirty"), or "unknown" for a plain `swift build`.
func isCommitID(_ text: String) -> Bool {
  if text == "unknown" { return true }
  let id = text.hasSuffix("-dirty") ? String(text.dropLast(6)) : text
  return id.count >= 7 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }
}

/// Logs in through ComfyUI-Login's form; true when it lets the password in.
private func logIn(_ h: ComfyHome, _ password: String) throws -> Bool {
  let jar = h.tmp.path + "/cookies-\(UUID().uuidString)"
  let r = try curl(h.baseURL + "/login", form: ["username": "admin", "password": password], cookieJar: jar)
  guard r.status == 302 && r.headers.lowercased().contains("location: /\r") else { return false }
  return try curl(h.baseURL + "/queue", cookieJar: jar).status == 200
}

/// A process's argv from /proc.
func commandLine(of pid: Int32) throws -> [String] {
  let raw = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
  return raw.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
}

/// A TCP port that accepts connections (the kernel completes them) and never answers.
private final class SilentListener {
  let fd: Int32
  let port: Int

  init() throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    self.fd = fd
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    port = Int(UInt16(bigEndian: addr.sin_port))
  }

  func close() { _ = Glibc.close(fd) }
}
