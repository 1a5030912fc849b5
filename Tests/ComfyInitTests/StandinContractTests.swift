// Issue 10: the stand-ins' switches that model the real ComfyUI and ComfyUI-Login, each driven through the
// real comfy-init binary: a login node that misses a requirement deep in its import chain, the CORS
// Origin rule, the slow imports before the port opens, ComfyUI's SIGINT cleanup, and the log relay on
// ComfyUI's own stdout interceptor (pipe, terminal, COMFYUI_REDACT_LOGS=0, COMFYUI_INIT=exec).
import Foundation
import HTTPClient
import Testing

@Suite(.serialized) struct StandinContractTests {
  // MARK: the login node's import chain

  /// The real ComfyUI-Login imports torch, Pillow, numpy and pycryptodome (its image node), then aiohttp,
  /// aiohttp_session (whose cookie storage needs the [secure] extra, cryptography), Jinja2 and bcrypt. A
  /// venv without any one of them makes the node fail to import: comfy-init must stop before the port opens.
  @Test func aLoginNodeMissingARequirementAnywhereInItsImportChainFailsClosed() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    for module in ["torch", "Crypto", "cryptography", "jinja2", "bcrypt"] {
      // ComfyUI's own port: the gate listens on h.port from the start.
      let watcher = PortWatcher(port: h.internalPort)
      defer { _ = watcher.stop() }  // also when start throws: the watcher's thread ends
      let server = try h.start(["STANDIN_LOGIN_BREAK": "missing:\(module)"], label: "missing-\(module)")
      defer { server.stop() }
      let end = server.wait(timeout: 60)
      let connections = watcher.stop()
      #expect(end?.status == 21 && end?.signaled == false, "\(module): \(server.log)")
      #expect(
        server.log.contains(
          "comfy-init: error: auth is on but ComfyUI-Login did not load (ModuleNotFoundError: No module named '\(module)'); the server was stopped before it listened"
        ), "\(module): \(server.log)")
      #expect(connections == 0, "\(module): something listened on the port \(connections) times")
    }
  }

  // MARK: --enable-cors-header

  /// As the real password.py: with --enable-cors-header ORIGIN a bearer token (or ?token=) counts only on a
  /// request whose Origin is ORIGIN. Without this, healthSendsTheOriginThatTheCorsFlagNames could not fail.
  @Test func theLoginNodeTakesATokenOnlyFromTheOriginTheCorsFlagNames() throws {
    let h = ComfyHome()
    h.extra["COMFYUI_ARGS"] = "--cpu --enable-cors-header https://studio.example"
    let server = try h.start()
    defer { server.stop() }
    #expect(pollUntil { server.log.contains("auth: verified:") }, "\(server.log)")
    let url = h.baseURL + "/system_stats"
    let bearer = "Authorization: Bearer \(h.token)"
    let query = url + "?token=" + percentEncode(h.token)
    #expect(try curl(url, headers: [bearer]).status == 401)
    #expect(try curl(query).status == 401)
    #expect(try curl(url, headers: [bearer, "Origin: https://other.example"]).status == 401)
    #expect(try curl(url, headers: [bearer, "Origin: https://studio.example"]).status == 200)
    #expect(try curl(query, headers: ["Origin: https://studio.example"]).status == 200)
  }

  // MARK: slow imports, stop, cleanup (comfy-init as PID 1, stopped as `docker stop` does: SIGTERM)

  /// Real ComfyUI spends seconds importing torch before it binds: health says "starting" (exit 1, unhealthy
  /// for Docker, but not "refused"), and a stop in that window ends at once, as a stop we asked for (0).
  @Test(.enabled(if: geteuid() == 0, "needs root for unshare --pid --mount-proc"))
  func healthSaysStartingWhileComfyUIImportsAndAStopThenEndsAtOnce() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    var env = h.environment
    env["STANDIN_IMPORT_DELAY"] = "300"
    env["COMFYUI_STOP_TIMEOUT"] = "30"  // a stop that needed the grace period's SIGKILL would take 30 s
    let run = try PID1.Run(namespace: [Paths.comfyInit, "run"], tmp: h.tmp, environment: env)
    defer { run.stop() }
    let initPID = try #require(run.initPID())
    var health: ProcessResult? = nil
    let starting = pollUntil(60) {
      health = try? runProcess([Paths.comfyInit, "health"], environment: h.environment, timeout: 30)
      return health?.stdout.hasPrefix("starting: ") == true
    }
    #expect(starting, "health: \(health?.stdout ?? "") log: \(run.log)")
    // "starting" holds from the spawn on; the stop must land in the import window, not in the interpreter's
    // own start-up (a SIGINT there is a fatal error in site, exit 1: a different case).
    #expect(pollUntil(60) { run.log.contains("standin: importing for 300 s") }, "\(run.log)")
    #expect(health?.status == 1)
    #expect(health?.stdout.contains("not listening on port \(h.internalPort) yet") == true, "\(health?.stdout ?? "")")
    let asked = Date()
    kill(initPID, SIGTERM)
    let end = run.wait(timeout: 60)
    let took = Date().timeIntervalSince(asked)
    #expect(end?.status == 0 && end?.signaled == false, "\(String(describing: end)) \(run.log)")
    // comfy-init repeats the stop after half the grace (15 s) and kills after 30 s: well before either.
    #expect(took < 10, "the stop took \(took) s: the server did not get or obey SIGINT at once")
    #expect(!run.log.contains("did not stop within"), "\(run.log)")
    // Uncaught KeyboardInterrupt: Python re-raises SIGINT on itself, as the real ComfyUI does before it serves.
    #expect(run.log.contains("serve: ComfyUI ended with killed by SIGINT"), "\(run.log)")
    #expect(try curl(h.baseURL + "/system_stats").status == 0, "nothing may listen after the stop")
  }

  /// `docker stop` (SIGTERM to PID 1) reaches ComfyUI as SIGINT, the only signal it cleans up on: the cleanup
  /// really runs ("Stopped server", the cleanup file says "clean"), and its exit 0 is comfy-init's.
  @Test(.enabled(if: geteuid() == 0, "needs root for unshare --pid --mount-proc"))
  func aStopRunsComfyUIsCleanupAndItsExitCodeIsComfyInits() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let cleanup = h.tmp.path + "/cleanup"
    var env = h.environment
    env["STANDIN_CLEANUP_FILE"] = cleanup
    let run = try PID1.Run(namespace: [Paths.comfyInit, "run"], tmp: h.tmp, environment: env)
    defer { run.stop() }
    let initPID = try #require(run.initPID())
    #expect(h.waitUntilServing(run.process), "\(run.log)")
    kill(initPID, SIGTERM)
    let end = run.wait(timeout: 60)
    #expect(end?.status == 0 && end?.signaled == false, "\(String(describing: end)) \(run.log)")
    #expect((try? String(contentsOfFile: cleanup, encoding: .utf8)) == "clean", "\(run.log)")
    #expect(run.log.contains("Stopped server"), "\(run.log)")
    #expect(run.log.contains("serve: ComfyUI ended with exit code 0"), "\(run.log)")
    #expect(!run.log.contains("did not stop within"), "\(run.log)")
  }

  // MARK: the log relay on ComfyUI's own stdout

  /// The token (ComfyUI-Login logs it), its URL-encoded form and the password, split across writes, inside
  /// a line longer than the relay's 4 KiB piece, and before a progress bar's "\r": all cut out of the log.
  @Test func theRelayCutsTheSecretsOutOfPartialAndLongLines() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let said = h.tmp.path + "/say.json"
    let server = try h.start(["STANDIN_SAY_FILE": said])
    defer { server.stop() }
    #expect(pollUntil { server.log.contains("auth: verified:") }, "\(server.log)")
    try say(secretPieces(token: h.token), to: said)
    #expect(pollUntil { server.log.contains("said-end\n") }, "\(server.log)")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 60)?.status == 0, "\(server.log)")
    let log = server.log
    for secret in [h.token, percentEncode(h.token), password] {
      #expect(!log.contains(secret), "the log shows \(secret)")
      #expect(!log.contains(String(secret.prefix(16))), "the log shows the start of \(secret)")
    }
    #expect(log.contains("For direct API calls, use token=<redacted>\n"), "\(log)")
    #expect(log.contains("see token=<redacted>&x\n"), "\(log)")
    #expect(log.contains("pass <redacted> here\n"), "\(log)")
    #expect(log.contains(longPrefix + "<redacted>yyyyyyyyyy\n"), "the long line, cut where the token was")
    #expect(log.contains("progress 50%\rend <redacted>\n"), "\(log)")
  }

  /// Redaction is for logs nobody watches: with COMFYUI_REDACT_LOGS=0, or on a terminal (`docker run -it`),
  /// the server's output arrives as it was written.
  @Test func theRelayLeavesTheSecretsWithRedactLogsOffAndOnATerminal() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let pieces = secretPieces(token: h.token)
    // A pipe, COMFYUI_REDACT_LOGS=0.
    let saidOff = h.tmp.path + "/say-off.json"
    let off = try h.start(["STANDIN_SAY_FILE": saidOff, "COMFYUI_REDACT_LOGS": "0"], label: "off")
    defer { off.stop() }
    #expect(pollUntil { off.log.contains("auth: verified:") }, "\(off.log)")
    try say(pieces, to: saidOff)
    #expect(pollUntil { off.log.contains("said-end\n") }, "\(off.log)")
    off.signal(SIGTERM)
    #expect(off.wait(timeout: 60)?.status == 0, "\(off.log)")
    #expect(off.log.contains(pieces.joined()), "\(off.log)")
    #expect(off.log.contains("For direct API calls, use token=\(h.token)\n"), "\(off.log)")
    // A terminal: `script` gives comfy-init a pseudo-terminal as stdin, stdout and stderr.
    let saidTTY = h.tmp.path + "/say-tty.json"
    var env = h.environment
    env["STANDIN_SAY_FILE"] = saidTTY
    let tty = try BackgroundProcess(
      ["/usr/bin/script", "-qfec", "exec " + Paths.comfyInit + " run", "/dev/null"], environment: env,
      log: h.tmp.path + "/tty.log")
    defer { tty.stop() }
    #expect(pollUntil { tty.log.contains("auth: verified:") }, "\(tty.log)")
    try say(pieces, to: saidTTY)
    #expect(pollUntil { tty.log.contains("said-end") }, "\(tty.log)")
    let comfyInit = try #require(descendants(of: tty.pid).first { commandLine(of: $0).first == Paths.comfyInit })
    kill(comfyInit, SIGTERM)
    #expect(tty.wait(timeout: 60)?.status == 0, "\(tty.log)")
    // The terminal turns each "\n" into "\r\n".
    let onScreen = tty.log.replacingOccurrences(of: "\r\n", with: "\n")
    #expect(onScreen.contains(pieces.joined()), "\(onScreen)")
    #expect(onScreen.contains("For direct API calls, use token=\(h.token)\n"), "\(onScreen)")
  }

  /// COMFYUI_INIT=exec: comfy-init becomes the server, so nothing stands between its output and the log.
  @Test func inExecModeTheServerWritesStraightToTheLog() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none", "COMFYUI_INIT": "exec"])
    #expect(try h.bootstrap().status == 0)
    let said = h.tmp.path + "/say.json"
    let server = try h.start(["STANDIN_SAY_FILE": said])
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/system_stats", while: server) != nil, "\(server.log)")
    #expect(commandLine(of: server.pid).contains("main.py"), "comfy-init's pid is the server's")
    let pieces = secretPieces(token: "$2b$12$" + String(repeating: "Q", count: 53))
    try say(pieces, to: said)
    #expect(pollUntil { server.log.contains("said-end\n") }, "\(server.log)")
    #expect(server.log.contains(pieces.joined()), "\(server.log)")
    server.signal(SIGINT)
    #expect(server.wait(timeout: 60)?.status == 0, "\(server.log)")
  }

  // MARK: helpers

  let password = "correct-horse-battery-staple"  // ComfyHome's default credential
  let longPrefix = String(repeating: "x", count: 5000)

  /// What the stand-in server writes once told to (STANDIN_SAY_FILE): each piece one write, flushed.
  func secretPieces(token: String) -> [String] {
    let encoded = percentEncode(token)
    return [
      "see token=\(encoded.prefix(10))", "\(encoded.dropFirst(10))&x\n",
      "pass \(password.prefix(9))", "\(password.dropFirst(9)) here\n",
      longPrefix + token + String(repeating: "y", count: 10) + "\n",
      "progress 50%\r", "end \(token.prefix(30))", "\(token.dropFirst(30))\n",
      "said-end\n",
    ]
  }

  /// Writes the pieces where the stand-in waits for them (whole: written aside, then renamed).
  func say(_ pieces: [String], to path: String) throws {
    let data = try JSONSerialization.data(withJSONObject: pieces)
    try data.write(to: URL(fileURLWithPath: path + ".part"))
    #expect(rename(path + ".part", path) == 0)
  }

  func commandLine(of pid: pid_t) -> [String] {
    let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
    return raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
  }
}
