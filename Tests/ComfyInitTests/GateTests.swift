// The gate (comfy-gateway) in front of the stand-in ComfyUI and ComfyUI-Login, driven by the real
// comfy-init: every row of issue 18's table, as an attacker would send it. The stand-ins keep the real
// pair's holes (ComfyUI-Login skips any path ending in .js; ComfyUI serves user data under such names),
// so without the gate these tests fail.
import Foundation
import Testing

/// A request without credentials and what the gate must answer it.
private struct Attempt: CustomStringConvertible {
  var method: String
  var path: String
  var headers: [String] = []
  var description: String { "\(method) \(path) \(headers)" }
}

/// `curl -X METHOD` (Support's curl), as every attack here is written.
private func send(
  _ method: String, _ url: String, headers: [String] = [], body: String? = nil, maxTime: Int = 10,
  trustAnyCertificate: Bool = false
) throws -> CurlResult {
  try curl(
    url, method: method, headers: headers, body: body, maxTime: maxTime, trustAnyCertificate: trustAnyCertificate)
}

/// The local addresses a process listens on (from /proc/PID/net/tcp and tcp6, its sockets' inodes).
func listeningAddresses(of pid: Int32) -> [String] {
  let fdDir = "/proc/\(pid)/fd"
  let inodes = Set(
    ((try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? []).compactMap { fd -> String? in
      guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd),
        target.hasPrefix("socket:[")
      else { return nil }
      return String(target.dropFirst(8).dropLast())
    })
  var found: [String] = []
  for table in ["tcp", "tcp6"] {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n").dropFirst() {
      let fields = line.split(separator: " ")
      // local_address rem_address st ... inode: state 0A is LISTEN.
      guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])) else { continue }
      found.append(String(fields[1]))
    }
  }
  return found
}

@Suite(.serialized) struct GateTests {
  /// Every request ComfyUI-Login lets through without credentials, and the malformed headers it answers
  /// with 500: through the gate, each is refused with 401 (JSON) and never reaches ComfyUI.
  @Test func everyRouteComfyUILoginLeavesOpenIsRefusedAtTheGate() throws {
    let h = ComfyHome()
    let server = try h.startServing()
    defer { server.stop() }
    let userDir = h.home + "/ComfyUI/user/default"
    try FileManager.default.createDirectory(atPath: userDir + "/workflows", withIntermediateDirectories: true)
    try "{\"secret\": 1}".write(toFile: userDir + "/workflows/private.json", atomically: true, encoding: .utf8)
    let attempts = [
      Attempt(method: "POST", path: "/userdata/evil.js"),
      Attempt(method: "POST", path: "/api/userdata/evil.js"),
      Attempt(method: "POST", path: "/userdata/workflows%2Fprivate.json/move/stolen.js"),
      Attempt(method: "POST", path: "/api/userdata/workflows%2Fprivate.json/move/stolen.js"),
      Attempt(method: "GET", path: "/userdata/workflows%2Fprivate.json"),
      Attempt(method: "GET", path: "/userdata/stolen.js"),
      Attempt(method: "DELETE", path: "/userdata/private.js"),
      Attempt(method: "GET", path: "/internal/logs"),
      Attempt(method: "GET", path: "/object_info"),
      Attempt(method: "POST", path: "/prompt"),
      Attempt(method: "GET", path: "/style.css"),
      Attempt(method: "GET", path: "/favicon.ico"),
      Attempt(method: "GET", path: "/system_stats", headers: ["Authorization: Bearer"]),
      Attempt(method: "GET", path: "/system_stats", headers: ["Authorization: Bearer a b"]),
      Attempt(method: "GET", path: "/system_stats", headers: ["Authorization: Bearer wrong-token"]),
      Attempt(method: "GET", path: "/system_stats", headers: ["Authorization: Basic !!!"]),
      Attempt(method: "GET", path: "/system_stats", headers: ["Authorization: Basic YWRtaW46d3Jvbmc="]),
      Attempt(method: "GET", path: "/system_stats?token=wrong"),
      Attempt(method: "GET", path: "/system_stats", headers: ["Cookie: comfy_gate_session=v1.9999999999.00.forged"]),
    ]
    for attempt in attempts {
      let r = try send(attempt.method, h.baseURL + attempt.path, headers: attempt.headers, body: "x")
      #expect(r.status == 401, "\(attempt) answered \(r.status): \(r.body)")
      #expect(r.body.contains("Authentication required"), "\(attempt): \(r.body)")
    }
    #expect(!FileManager.default.fileExists(atPath: userDir + "/evil.js"))
    #expect(!FileManager.default.fileExists(atPath: userDir + "/stolen.js"))
    // Behind the gate the stand-ins are as open as the real pair: straight to ComfyUI (loopback only,
    // reachable from inside the container alone), the same write needs no credential.
    let direct = try send("POST", "http://127.0.0.1:\(h.internalPort)/userdata/evil.js", body: "x")
    #expect(direct.status == 200, "the stand-in login is stricter than the real one: \(direct.status)")
    try? FileManager.default.removeItem(atPath: userDir + "/evil.js")
    #expect(FileManager.default.fileExists(atPath: userDir + "/workflows/private.json"))
    // The same routes do exist behind the gate: with the token, the write goes through.
    let written = try send(
      "POST", h.baseURL + "/userdata/allowed.js", headers: ["Authorization: Bearer \(h.token)"], body: "ok")
    #expect(written.status == 200, "\(written.body)")
    #expect(FileManager.default.fileExists(atPath: userDir + "/allowed.js"))
    // A CORS preflight needs no credential (ComfyUI answers it before any handler); any other OPTIONS does.
    let preflight = try send(
      "OPTIONS", h.baseURL + "/prompt",
      headers: ["Origin: http://127.0.0.1:\(h.port)", "Access-Control-Request-Method: POST"])
    #expect(preflight.status == 200, "\(preflight.headers)")
    #expect(try send("OPTIONS", h.baseURL + "/prompt").status == 401)
    // A browser is sent to the login page, as ComfyUI-Login sends it.
    let browser = try send("GET", h.baseURL + "/", headers: ["Accept: text/html"])
    #expect(browser.status == 302 && browser.headers.contains("ocation: /login"), "\(browser.headers)")
    // The token never appears in the log, also when it came in the query.
    _ = try send("GET", h.baseURL + "/system_stats?token=" + percentEncoded(h.token))
    #expect(!server.log.contains(h.token))
  }

  /// ComfyUI listens on loopback only, at COMFYUI_INTERNAL_PORT; the gate alone at COMFYUI_PORT.
  @Test func onlyTheGateListensWhereClientsConnect() throws {
    let h = ComfyHome(["COMFYUI_PASSWORD": "correct-horse-battery-staple", "COMFYUI_LISTEN": "0.0.0.0"])
    let server = try h.startServing()
    defer { server.stop() }
    let python = try #require(serverPID(under: server.pid))
    let gate = try #require(gatePID(under: server.pid))
    let hexInternal = String(format: "%04X", h.internalPort)
    let pythonListens = listeningAddresses(of: python)
    #expect(pythonListens == ["0100007F:\(hexInternal)"], "the server listens on \(pythonListens)")
    let gateListens = listeningAddresses(of: gate)
    #expect(gateListens == [String(format: "00000000:%04X", h.port)], "the gate listens on \(gateListens)")
    // The health check proves it from both sides.
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 0, "\(health.stdout)")
    #expect(health.stdout.contains("auth enforced by the gate"), "\(health.stdout)")
  }

  /// ComfyUI-Manager's restart (os.execv with the same argv) keeps the bind guard, because it comes
  /// through the environment; a custom node cannot open a port outside loopback; and the gate still
  /// refuses every request without credentials after the restart.
  @Test func anInPlaceRestartKeepsTheBindGuardAndTheGate() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let node = """
      import os, socket, sys, server
      routes = server.PromptServer.instance.routes

      @routes.get("/test/bind")
      def bind(request):
          s = socket.socket()
          try:
              s.bind(("0.0.0.0", 0))
              return server.json_response({"bound": True})
          except PermissionError as e:
              return server.json_response({"bound": False, "error": str(e)})
          finally:
              s.close()

      @routes.get("/test/reboot")
      def reboot(request):
          os.execv(sys.executable, [sys.executable] + sys.argv)

      NODE_CLASS_MAPPINGS = {}
      """
    try node.write(toFile: h.home + "/ComfyUI/custom_nodes/restart_probe.py", atomically: true, encoding: .utf8)
    let server = try h.startServing()
    defer { server.stop() }
    let auth = ["Authorization: Bearer \(h.token)"]
    let before = try send("GET", h.baseURL + "/test/bind", headers: auth)
    #expect(before.body.contains("\"bound\": false") && before.body.contains("bind guard"), "\(before.body)")
    let python = try #require(serverPID(under: server.pid))
    _ = try? send("GET", h.baseURL + "/test/reboot", headers: auth)
    // Same pid after execv; wait until it answers again.
    var answered = false
    for _ in 0..<200 where !answered {
      usleep(50_000)
      answered = (try? send("GET", h.baseURL + "/system_stats", headers: auth))?.status == 200
    }
    #expect(answered, "\(server.log)")
    #expect(serverPID(under: server.pid) == python, "the restart kept the pid (execv)")
    let after = try send("GET", h.baseURL + "/test/bind", headers: auth)
    #expect(after.body.contains("\"bound\": false") && after.body.contains("bind guard"), "\(after.body)")
    #expect(try send("POST", h.baseURL + "/userdata/evil.js", body: "x").status == 401)
    #expect(try send("GET", h.baseURL + "/object_info").status == 401)
    // The stand-in's handler threads exec, and a thread's exec drops the parent-death signal (the real
    // ComfyUI-Manager restarts from the event loop's main thread, which keeps it): stop as Docker does.
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 20)?.status == 0, "\(server.log)")
    #expect(kill(python, 0) != 0, "the restarted server outlived comfy-init")
  }

  /// The browser login: ComfyUI-Login's form contract, a signed cookie, and a password rotation ends
  /// the session.
  @Test func browserLoginThenARotationEndsTheSession() throws {
    let h = ComfyHome()
    var server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let page = try send("GET", h.baseURL + "/login")
    #expect(page.status == 200 && page.body.contains("name=\"password\""))
    let wrong = try curl(h.baseURL + "/login", form: ["password": "nope"])
    #expect(wrong.status == 302 && wrong.headers.contains("/login?wrong_password=1"), "\(wrong.headers)")
    let jar = h.tmp.path + "/cookies"
    let right = try curl(h.baseURL + "/login", form: ["password": "correct-horse-battery-staple"], cookieJar: jar)
    #expect(right.status == 302 && right.headers.contains("ocation: /\r"), "\(right.headers)")
    #expect(right.headers.contains("HttpOnly") && right.headers.contains("SameSite=Lax"), "\(right.headers)")
    #expect(try curl(h.baseURL + "/system_stats", cookieJar: jar).status == 200)
    server.stop()
    h.extra["COMFYUI_PASSWORD"] = "a-new-password-after-rotation"
    server = try h.start()
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(try curl(h.baseURL + "/system_stats", cookieJar: jar).status == 401, "an old session outlived the rotation")
  }

  /// HTTP Basic with the user name and password, for requests and the WebSocket upgrade, as third-party
  /// clients send it.
  @Test func httpBasicWorksForRequestsAndTheWebSocket() throws {
    let h = ComfyHome()
    let server = try h.startServing()
    defer { server.stop() }
    let basic = "Authorization: Basic " + Data("admin:correct-horse-battery-staple".utf8).base64EncodedString()
    #expect(try send("GET", h.baseURL + "/system_stats", headers: [basic]).status == 200)
    let upgrade = try send(
      "GET", h.baseURL + "/ws?clientId=x",
      headers: [
        basic, "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ], maxTime: 2)
    #expect(upgrade.headers.contains("101"), "\(upgrade.headers)")
    let refused = try send(
      "GET", h.baseURL + "/ws?clientId=x",
      headers: [
        "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ])
    // As ComfyUI-Login: 401, never 101, never ComfyUI's socket.
    #expect(refused.status == 401 && !refused.headers.contains("101"), "\(refused.headers)")
  }

  /// COMFYUI_GUEST_MODE=1: guests get the explicit allow-list, never the log buffer or user data.
  @Test func guestsGetTheAllowListOnly() throws {
    let h = ComfyHome(["COMFYUI_PASSWORD": "correct-horse-battery-staple", "COMFYUI_GUEST_MODE": "1"])
    let server = try h.startServing()
    defer { server.stop() }
    #expect(try send("GET", h.baseURL + "/object_info").status == 200)
    #expect(try send("GET", h.baseURL + "/api/queue").status == 200)
    for (method, path) in [
      ("GET", "/internal/logs"), ("GET", "/userdata/x.js"), ("POST", "/userdata/x.js"), ("GET", "/system_stats"),
      ("POST", "/queue"), ("POST", "/free"), ("GET", "/api/../internal/logs"),
      ("GET", "/object%5finfo/../../internal/logs"),
    ] {
      #expect(try send(method, h.baseURL + path).status == 401, "\(method) \(path) was open to guests")
    }
  }

  /// A gate that dies stops the container (exit 23); it is never restarted behind the server.
  @Test func aGateThatDiesStopsEverything() throws {
    let h = ComfyHome()
    let server = try h.startServing()
    defer { server.stop() }
    let gate = try #require(gatePID(under: server.pid))
    let python = try #require(serverPID(under: server.pid))
    kill(gate, SIGKILL)
    let end = server.wait(timeout: 30)
    #expect(end?.status == 23, "\(server.log)")
    #expect(kill(python, 0) != 0, "the server outlived the gate")
  }

  /// A password guesser is slowed down per client, and never makes the gate run many bcrypts at once.
  @Test func loginAttemptsAreThrottled() throws {
    let h = ComfyHome()
    let server = try h.startServing()
    defer { server.stop() }
    var statuses: [Int] = []
    for _ in 0..<14 { statuses.append(try curl(h.baseURL + "/login", form: ["password": "guess"]).status) }
    #expect(statuses.prefix(10).allSatisfy { $0 == 302 }, "\(statuses)")
    #expect(statuses.suffix(3).allSatisfy { $0 == 429 }, "\(statuses)")
  }

  /// A real third-party client from PyPI (comfy-api-simplified: HTTP Basic on every request and on the
  /// /ws upgrade) queues a workflow and receives its images through the gate.
  @Test func aThirdPartyClientWithHTTPBasicGetsItsImagesThroughTheGate() throws {
    let h = ComfyHome()
    let server = try h.start()
    defer { server.stop() }
    let venv = h.tmp.path + "/client-venv"
    #expect(
      try runProcess(["/usr/bin/env", "python3", "-m", "venv", venv], environment: baseEnvironment()).status == 0)
    let install = try runProcess(
      [venv + "/bin/pip", "install", "-q", "--no-index", "--find-links", Paths.wheels, "comfy-api-simplified"],
      environment: baseEnvironment(), timeout: 300)
    #expect(install.status == 0, "\(install.stderr)")
    #expect(h.waitUntilServing(server), "\(server.log)")
    let out = h.tmp.path + "/images"
    let run = try runProcess(
      [
        venv + "/bin/python", Paths.fixtures + "/clients/comfy-api-simplified.py", h.baseURL, "admin",
        "correct-horse-battery-staple", out,
      ], environment: baseEnvironment(), timeout: 120)
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)\n\(server.log)")
    #expect(run.stdout.contains("2 image(s)") && run.stdout.contains("png=True"), "\(run.stdout)")
    // The same client with a wrong password gets nothing.
    let refused = try runProcess(
      [venv + "/bin/python", Paths.fixtures + "/clients/comfy-api-simplified.py", h.baseURL, "admin", "wrong", out],
      environment: baseEnvironment(), timeout: 120)
    #expect(refused.status != 0 && refused.stderr.contains("401"), "\(refused.stderr)")
  }

  /// COMFYUI_TLS_CERT/KEY: the gate serves HTTPS (ComfyUI's own TLS flags are refused), its cookie is
  /// Secure, and `health` checks it with the gate's own certificate. Behind a TLS-terminating proxy,
  /// X-Forwarded-Proto counts only from COMFYUI_TRUSTED_PROXIES.
  @Test func tlsAtTheGateAndForwardedProtoOnlyFromTrustedProxies() throws {
    let tls = TempDir("tls")
    let made = try runProcess(
      [
        "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=comfy.example",
        "-keyout", tls.path + "/key.pem", "-out", tls.path + "/cert.pem",
      ], environment: baseEnvironment())
    #expect(made.status == 0, "\(made.stderr)")
    let refused = ComfyHome([
      "COMFYUI_PASSWORD": "correct-horse-battery-staple", "COMFYUI_ARGS": "--cpu --tls-keyfile /k --tls-certfile /c",
    ])
    let flags = try refused.bootstrap()
    #expect(flags.status == 10 && flags.stderr.contains("COMFYUI_TLS_CERT"), "\(flags.stderr)")

    let h = ComfyHome([
      "COMFYUI_PASSWORD": "correct-horse-battery-staple", "COMFYUI_TLS_CERT": tls.path + "/cert.pem",
      "COMFYUI_TLS_KEY": tls.path + "/key.pem",
    ])
    let server = try h.start()
    defer { server.stop() }
    let https = "https://127.0.0.1:\(h.port)"
    var up = false
    for _ in 0..<600 where !up && server.isRunning {
      usleep(100_000)
      up =
        (try? send(
          "GET", https + "/system_stats", headers: ["Authorization: Bearer \(h.token)"], trustAnyCertificate: true))?
        .status == 200
    }
    #expect(up, "\(server.log)")
    #expect(try send("GET", https + "/system_stats", trustAnyCertificate: true).status == 401)
    let login = try runProcess(
      [
        "/usr/bin/curl", "-sk", "-D", "-", "-o", "/dev/null", "--data", "password=correct-horse-battery-staple",
        https + "/login",
      ],
      environment: baseEnvironment())
    #expect(login.stdout.contains("; Secure"), "\(login.stdout)")
    let health = try runProcess([Paths.comfyInit, "health"], environment: h.environment)
    #expect(health.status == 0, "\(health.stdout)")
    server.stop()

    // Plain HTTP behind a proxy: X-Forwarded-Proto: https from an untrusted peer changes nothing; from a
    // trusted one the cookie becomes Secure.
    for (trusted, secure) in [("", false), ("127.0.0.1", true)] {
      let plain = ComfyHome(["COMFYUI_PASSWORD": "correct-horse-battery-staple", "COMFYUI_TRUSTED_PROXIES": trusted])
      let proxied = try plain.start()
      defer { proxied.stop() }
      #expect(plain.waitUntilServing(proxied), "\(proxied.log)")
      let answer = try runProcess(
        [
          "/usr/bin/curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "X-Forwarded-Proto: https", "--data",
          "password=correct-horse-battery-staple", plain.baseURL + "/login",
        ], environment: baseEnvironment())
      #expect(answer.stdout.contains("; Secure") == secure, "trusted '\(trusted)': \(answer.stdout)")
    }
  }

  /// Clients without good manners (no credential needed to try): half a request head, an idle keep-alive
  /// connection, more connections than one client may hold, an authenticated CONNECT (it crashed the
  /// gate once: its host:port became part of the upstream URL). The limits are the gate's flags, set low
  /// here through a wrapper; an upgraded WebSocket is not an idle HTTP connection.
  @Test func connectionsThatNeverFinishARequestAreClosedAndConnectIsRefused() throws {
    let h = ComfyHome()
    let wrapper = h.tmp.path + "/comfy-gateway"
    try """
    #!/bin/sh
    exec \(URL(fileURLWithPath: Paths.comfyInit).deletingLastPathComponent().path)/comfy-gateway "$@" \
      --header-deadline 2 --idle-timeout 3 --max-connections-per-client 6
    """.write(toFile: wrapper, atomically: true, encoding: .utf8)
    chmod(wrapper, 0o755)
    h.extra["COMFYUI_GATEWAY"] = wrapper
    let server = try h.startServing()
    defer { server.stop() }
    let run = try runProcess(
      [
        "/usr/bin/env", "python3", Paths.fixtures + "/clients/connection-abuse.py", "127.0.0.1", String(h.port),
        h.token, "6",
      ],
      environment: baseEnvironment().merging(["IDLE_WAIT": "6"]) { $1 }, timeout: 120)
    #expect(run.status == 0, "\(run.stderr)")
    let seen = Dictionary(
      uniqueKeysWithValues: run.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
        let parts = line.split(separator: " ", maxSplits: 1)
        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
      })
    let partial = Double(seen["partial-head"] ?? "")
    #expect(partial != nil && partial! < 6, "half a head held the connection: \(run.stdout)")
    let idle = Double(seen["idle-http"] ?? "")
    #expect(idle != nil && idle! < 8, "an idle connection stayed: \(run.stdout)")
    #expect(seen["idle-ws"] == "open 101", "the idle WebSocket was closed: \(run.stdout)")
    #expect(seen["over-limit"] == "closed", "\(run.stdout)")
    #expect(
      seen["connect"]?.hasPrefix("HTTP/1.1 400") == true && seen["connect"]?.hasSuffix("alive") == true, "\(run.stdout)"
    )
    #expect(server.isRunning, "\(server.log)")
  }

  /// A client that has guessed wrong too often gets no password checked, not even the right one from
  /// the cache of verified credentials (which once let 2,000 guesses through in 0.7 s).
  @Test func aThrottledClientGetsNoAnswerEvenForTheRightPassword() throws {
    let h = ComfyHome()
    let server = try h.startServing()
    defer { server.stop() }
    let right = "Authorization: Basic " + Data("admin:correct-horse-battery-staple".utf8).base64EncodedString()
    let wrong = "Authorization: Basic " + Data("admin:guess".utf8).base64EncodedString()
    #expect(try send("GET", h.baseURL + "/system_stats", headers: [right]).status == 200)  // now cached
    var statuses: [Int] = []
    for _ in 0..<12 { statuses.append(try send("GET", h.baseURL + "/system_stats", headers: [wrong]).status) }
    #expect(statuses.prefix(10).allSatisfy { $0 == 401 } && statuses.last == 429, "\(statuses)")
    let after = try send("GET", h.baseURL + "/system_stats", headers: [right])
    #expect(after.status == 429 && after.headers.contains("Retry-After"), "\(after.status) \(after.headers)")
    // The token is no password: it is never throttled.
    #expect(try send("GET", h.baseURL + "/system_stats", headers: ["Authorization: Bearer \(h.token)"]).status == 200)
  }

  /// An in-place restart that comes back with a ComfyUI-Login that does not import is a broken
  /// deployment: comfy-init reads the server's output for its whole life and stops it (21).
  @Test func aLoginNodeBrokenByAnInPlaceRestartStopsTheServer() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let node = """
      import os, sys, server
      routes = server.PromptServer.instance.routes

      @routes.get("/test/reboot-broken")
      def reboot(request):
          os.environ["STANDIN_LOGIN_BREAK"] = "import"
          os.execv(sys.executable, [sys.executable] + sys.argv)

      NODE_CLASS_MAPPINGS = {}
      """
    try node.write(toFile: h.home + "/ComfyUI/custom_nodes/restart_probe.py", atomically: true, encoding: .utf8)
    let server = try h.startServing()
    defer { server.stop() }
    _ = try? send("GET", h.baseURL + "/test/reboot-broken", headers: ["Authorization: Bearer \(h.token)"], maxTime: 2)
    let end = server.wait(timeout: 60)
    #expect(end?.status == 21, "\(server.log)")
    #expect(server.log.contains("auth is on but ComfyUI-Login did not load"), "\(server.log)")
  }
}
