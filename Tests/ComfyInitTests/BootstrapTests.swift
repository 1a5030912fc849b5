// The bootstrap against real git, python -m venv and pip, with the stand-in ComfyUI.
import Bcrypt
import Foundation
import Testing

@Suite(.serialized) struct BootstrapTests {
  @Test func firstStartInstallsEverythingAndAWarmRestartRunsNoGitAndNoPip() throws {
    let h = ComfyHome()
    let first = try h.bootstrap()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(h.recordedCalls.contains { $0.hasPrefix("git") && $0.contains(" clone ") })
    #expect(h.recordedCalls.contains { $0.contains("pip") && $0.contains("install") })
    #expect(FileManager.default.fileExists(atPath: h.home + "/ComfyUI/custom_nodes/ComfyUI-Login/__init__.py"))
    #expect(Bcrypt.isWellFormed(h.token))

    h.resetCalls()
    let second = try h.bootstrap()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(h.recordedCalls == [], "a warm restart started processes: \(h.recordedCalls)")
    #expect(second.stderr.contains("venv: up to date, no installer run"))
    // Every phase logs one line with its duration.
    for phase in ["lock", "source", "nodes", "venv", "auth"] {
      #expect(second.stderr.contains("comfy-init: \(phase)"), "no line for phase \(phase)")
    }
  }

  @Test func servesWithAuthAndTheTokenNeverDrifts() throws {
    let h = ComfyHome()
    var tokens: [String] = []
    for round in 0..<3 {
      let server = try h.start(label: "run\(round)")
      #expect(h.waitUntilServing(server), "\(server.log)")
      tokens.append(h.token)
      #expect(try curl(h.baseURL + "/system_stats").status == 401)
      #expect(try curl(h.baseURL + "/system_stats", headers: ["Accept: text/html"]).status == 302)
      #expect(try curl(h.baseURL + "/system_stats?token=" + percentEncoded(h.token)).status == 200)
      #expect(
        try curl(h.baseURL + "/system_stats", headers: ["Authorization: Bearer correct-horse-battery-staple"]).status
          == 401)
      let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
      #expect(health.status == 0, "\(health.stdout)")
      server.signal(SIGTERM)
      let end = server.wait(timeout: 10)
      #expect(end?.status == 0 && end?.signaled == false, "\(server.log)")
    }
    #expect(Set(tokens).count == 1, "the token changed across restarts: \(tokens)")
  }

  @Test func loginFormWorksWithThePassword() throws {
    let h = ComfyHome()
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let jar = h.tmp.path + "/cookies"
    let ok = try curl(
      h.baseURL + "/login", form: ["username": "admin", "password": "correct-horse-battery-staple"], cookieJar: jar)
    #expect(ok.status == 302)
    #expect(ok.headers.lowercased().contains("location: /\r"))
    #expect(try curl(h.baseURL + "/queue", cookieJar: jar).status == 200)
    let wrong = try curl(h.baseURL + "/login", form: ["username": "admin", "password": "nope"])
    #expect(wrong.headers.contains("/login?wrong_password=1"))
  }

  @Test func pythonBcryptAndLibxcryptAgree() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let python = h.home + "/venv/bin/python"
    // Python verifies the hash comfy-init wrote...
    let check = try runProcess(
      [
        python, "-c",
        "import bcrypt,sys; print(bcrypt.checkpw(b'correct-horse-battery-staple', open(sys.argv[1],'rb').read().split(b'\\n')[0]))",
        h.passwordFile,
      ],
      environment: baseEnvironment())
    #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "True", "\(check.stderr)")
    // ...and comfy-init keeps a file whose hash Python made, byte for byte, because it verifies.
    let made = try runProcess(
      [
        python, "-c",
        "import bcrypt; print(bcrypt.hashpw(b'correct-horse-battery-staple', bcrypt.gensalt(12)).decode(), end='')",
      ],
      environment: baseEnvironment())
    let pythonHash = made.stdout
    #expect(Bcrypt.verify(password: "correct-horse-battery-staple", hash: pythonHash))
    #expect(!Bcrypt.verify(password: "wrong", hash: pythonHash))
    try (pythonHash + "\nadmin").write(toFile: h.passwordFile, atomically: true, encoding: .utf8)
    try? FileManager.default.removeItem(atPath: h.home + "/.comfy-init/auth.stamp")
    #expect(try h.bootstrap().status == 0)
    #expect(try String(contentsOfFile: h.passwordFile, encoding: .utf8) == pythonHash + "\nadmin")
    let perms = try FileManager.default.attributesOfItem(atPath: h.passwordFile)[.posixPermissions] as? Int
    #expect(perms == 0o600)
  }

  @Test func aNewPasswordOrUserRewritesTheHashAndAGivenHashIsWrittenVerbatim() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let first = h.token
    #expect(try h.bootstrap(["COMFYUI_PASSWORD": "another password"]).status == 0)
    #expect(h.token != first)
    #expect(Bcrypt.verify(password: "another password", hash: h.token))
    let given = try Bcrypt.hash(password: "from a hash file", cost: 4)
    let file = h.tmp.path + "/hash"
    try (given + "\n").write(toFile: file, atomically: true, encoding: .utf8)
    var env = ["COMFYUI_PASSWORD_HASH_FILE": file, "COMFYUI_USERNAME": "ops"]
    env["COMFYUI_PASSWORD"] = ""
    #expect(try h.bootstrap(env).status == 0)
    #expect(try String(contentsOfFile: h.passwordFile, encoding: .utf8) == given + "\nops")
    // The same file as PASSWORD's layout (username on line 2), saved on Windows.
    try (given + "\r\nops\r\n").write(toFile: file, atomically: true, encoding: .utf8)
    let crlf = try h.bootstrap(env)
    #expect(crlf.status == 0, "\(crlf.stderr)")
    #expect(try String(contentsOfFile: h.passwordFile, encoding: .utf8) == given + "\nops")
  }

  @Test func authNoneDisablesTheLoginNodeWithoutDeletingIt() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let server = try h.start(["COMFYUI_AUTH": "none", "COMFYUI_PASSWORD": ""])
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/", while: server) != nil, "\(server.log)")
    #expect(try curl(h.baseURL + "/system_stats").status == 200)
    #expect(FileManager.default.fileExists(atPath: h.home + "/ComfyUI/custom_nodes/ComfyUI-Login.disabled/__init__.py"))
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0)
    // Back to login: the same node is enabled again, no clone needed.
    h.resetCalls()
    #expect(try h.bootstrap().status == 0)
    #expect(FileManager.default.fileExists(atPath: h.home + "/ComfyUI/custom_nodes/ComfyUI-Login/__init__.py"))
    #expect(!h.recordedCalls.contains { $0.contains(" clone ") })
  }

  @Test(arguments: ["source", "nodes", "venv"])
  func aCrashInAnyPhaseConvergesOnTheNextStart(phase: String) throws {
    let h = ComfyHome()
    let comfyPartial = h.home + "/.comfy-init-partial-ComfyUI.disabled"
    let loginPartial = h.home + "/ComfyUI/custom_nodes/.comfy-init-partial-ComfyUI-Login.disabled"
    let marker = h.home + "/venv/.comfy-init-installing"
    // The shims hold each step open once it is done; the kill comes when its leftover is on disk,
    // and the next start must name the repair it makes.
    let plans: [String: (slow: [String: String], leftover: String, repair: String)] = [
      "source": (
        ["COMFY_TEST_SLOW_CLONE": "120", "COMFY_TEST_SLOW_CLONE_MATCH": "comfyui.git-src"], comfyPartial + "/main.py",
        "ComfyUI: removed \(comfyPartial), a clone an earlier start did not finish"
      ),
      "nodes": (
        ["COMFY_TEST_SLOW_CLONE": "120", "COMFY_TEST_SLOW_CLONE_MATCH": "login-src"], loginPartial + "/__init__.py",
        "custom node ComfyUI-Login: removed \(loginPartial), a clone an earlier start did not finish"
      ),
      "venv": (
        ["COMFY_TEST_SLOW_PIP": "120"], marker, "venv: the last install did not finish (crash or stop); repairing"
      ),
    ]
    let plan = plans[phase]!
    let doomed = try h.start(plan.slow, label: "doomed")
    let reached = pollUntil(180, every: 0.0002, while: doomed) { FileManager.default.fileExists(atPath: plan.leftover) }
    freezeAndKill(doomed)
    try #require(reached, "never reached \(plan.leftover): \(doomed.log)")
    #expect(h.phase == phase, "killed in \(h.phase ?? "no phase"): \(doomed.log)")

    let server = try h.start(label: "recovered")
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(server.log.contains(plan.repair), "the repair path did not run: \(server.log)")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0)
    // Nothing half-made is left, for ComfyUI as for the nodes, and nothing needed moving aside.
    for partial in [comfyPartial, loginPartial] {
      #expect(!FileManager.default.fileExists(atPath: partial), "\(partial) was left behind")
    }
    let nodes = try FileManager.default.contentsOfDirectory(atPath: h.home + "/ComfyUI/custom_nodes")
    #expect(!nodes.contains { $0.hasPrefix(".comfy-init-partial") }, "\(nodes)")
    #expect(!FileManager.default.fileExists(atPath: marker))
    #expect(!FileManager.default.fileExists(atPath: h.home + "/venv.broken"))
  }

  @Test func aStopSignalTheServerSwallowedIsSentAgainBeforeTheKill() throws {
    let h = ComfyHome()
    let server = try h.start(["STANDIN_SWALLOW_FIRST_SIGINT": "1", "COMFYUI_STOP_TIMEOUT": "4"])
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    server.signal(SIGTERM)
    let end = server.wait(timeout: 20)
    #expect(end?.status == 0, "\(server.log)")
    #expect(server.log.contains("sending SIGINT again"), "\(server.log)")
    #expect(!server.log.contains("did not stop within"))
  }

  @Test func aColdStartWithUvInstallsWithoutRunningPip() throws {
    let h = ComfyHome()
    let bin = try realUV(in: h.tmp.path)
    var env = h.environment
    env["PATH"] = bin + ":" + env["PATH"]!
    env["COMFYUI_INSTALLER"] = "uv"
    env["UV_CACHE_DIR"] = h.tmp.path + "/uv-cache"
    let result = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("with uv"))
    #expect(!h.recordedCalls.contains { $0.contains("pip") && $0.contains("install") }, "\(h.recordedCalls)")
    let check = try runProcess(
      [h.home + "/venv/bin/python", "-c", "import six, einops, bcrypt"], environment: baseEnvironment())
    #expect(check.status == 0, "\(check.stderr)")
  }

  @Test func aCheckoutAtAnotherRefIsLeftAloneUnlessUpdateIsSet() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let comfy = h.home + "/ComfyUI"
    try "# local edit\n".write(toFile: comfy + "/folder_paths.py", atomically: true, encoding: .utf8)
    try FileManager.default.removeItem(atPath: h.home + "/.comfy-init/ComfyUI.checkout")
    let warned = try h.bootstrap()
    #expect(warned.status == 0)
    #expect(warned.stderr.contains("has local changes; left alone"), "\(warned.stderr)")
    #expect(try String(contentsOfFile: comfy + "/folder_paths.py", encoding: .utf8) == "# local edit\n")
    let updated = try h.bootstrap(["COMFYUI_UPDATE": "1"])
    #expect(updated.status == 0, "\(updated.stderr)")
    #expect(updated.stderr.contains("git stash"))
    let stash = try runProcess(["/usr/bin/git", "-C", comfy, "stash", "list"], environment: baseEnvironment())
    #expect(stash.stdout.contains("comfy-init"), "local changes were not kept: \(stash.stdout)")
  }
}

func percentEncoded(_ s: String) -> String {
  s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
}
