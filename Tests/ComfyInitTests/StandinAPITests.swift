// Issue 11: the stand-in ComfyUI's prompt API, driven through the real comfy-init binary with auth on, in the
// shapes docs/comfyui-api.md recorded from the real ComfyUI v0.8.0: the built-in workflow's PNG, /history,
// each validation answer, the queue while a slow prompt runs, /interrupt, execution errors and the /ws events.
import Foundation
import HTTPClient
import Testing

@Suite(.serialized) struct StandinAPITests {
  static let builtin = """
    {"1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 3368652}},
     "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
     "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "comfyctl-builtin"}}}
    """

  /// The built-in workflow end to end: the events in the real server's order, the history entry, and the
  /// PNG through /view: 64×64 RGB of 0xCC9932 (0x3366CC inverted in float32, as the real server writes it).
  @Test func theBuiltinWorkflowMakesTheInvertedPngWithTheRealServersEvents() throws {
    let api = try API.shared.get()
    let ws = try api.listen(clientID: "client-a", prompts: 1)
    defer { ws.stop() }
    let posted = try api.post("/prompt", #"{"client_id": "client-a", "prompt": \#(Self.builtin)}"#)
    #expect(posted.status == 200, "\(posted.body)")
    let promptID = try #require(try json(posted.body)["prompt_id"] as? String)
    let events = try api.events(ws, count: 1)
    let types = events.map { $0["type"] as? String ?? "" }
    #expect(
      types == [
        "status", "status", "status", "execution_start", "execution_cached", "executing", "executing", "executing",
        "executed", "execution_success", "status", "executing",
      ], "\(events)")
    let executed = try #require(events.first { $0["type"] as? String == "executed" }?["data"] as? [String: Any])
    #expect(executed["node"] as? String == "3" && executed["prompt_id"] as? String == promptID)
    let image = ["filename": "comfyctl-builtin_00001_.png", "subfolder": "", "type": "output"]
    #expect((executed["output"] as? [String: Any])?["images"] as? [[String: String]] == [image], "\(executed)")
    #expect((events.last?["data"] as? [String: Any])?["node"] is NSNull)

    let history = try json(try api.get("/history/\(promptID)").body)
    let entry = try #require(history[promptID] as? [String: Any], "\(history)")
    let status = try #require(entry["status"] as? [String: Any])
    #expect(status["status_str"] as? String == "success" && status["completed"] as? Bool == true)
    #expect(((entry["outputs"] as? [String: Any])?["3"] as? [String: Any])?["images"] as? [[String: String]] == [image])

    let png = try api.download("/view?filename=comfyctl-builtin_00001_.png&subfolder=&type=output")
    #expect(png.status == 200 && png.headers.lowercased().contains("content-type: image/png"), "\(png.headers)")
    #expect(try pixels(of: png.path) == "64x64 rgb cc9932 uniform")
    #expect(try api.get("/view?filename=../x.png").status == 400)
    #expect(try api.get("/view?filename=comfyctl-builtin_00001_.png&subfolder=..").status == 403)
    #expect(try api.get("/view?filename=nope.png").status == 404)
  }

  /// The same graph again comes from the output cache, as execution.py serves it: every node listed in
  /// `execution_cached`, none `executing`, SaveImage's `executed` replayed with the first run's image,
  /// and that image in the history. One input changed, only what depends on it runs again.
  @Test func aRepeatedGraphComesFromTheCacheAndAChangedInputRunsWhatDependsOnIt() throws {
    let api = try API.shared.get()
    let ws = try api.listen(clientID: "client-c", prompts: 3)
    defer { ws.stop() }
    let graph = Self.builtin.replacingOccurrences(of: "3368652", with: "4660")
    let changed = graph.replacingOccurrences(
      of: #""filename_prefix": "comfyctl-builtin""#, with: #""filename_prefix": "again""#)
    var ids: [String] = []
    for prompt in [graph, graph, changed] {
      let posted = try json(try api.post("/prompt", #"{"client_id": "client-c", "prompt": \#(prompt)}"#).body)
      ids.append(try #require(posted["prompt_id"] as? String))
    }
    let events = try api.events(ws, count: 3)
    func of(_ id: String, _ type: String) -> [[String: Any]] {
      events.filter { $0["type"] as? String == type }.compactMap { $0["data"] as? [String: Any] }
        .filter { $0["prompt_id"] as? String == id }
    }
    func nodes(_ id: String, _ type: String, _ key: String) -> [String] {
      of(id, type).compactMap { $0[key] as? String }
    }
    #expect(of(ids[0], "execution_cached").first?["nodes"] as? [String] == [], "\(events)")
    #expect(nodes(ids[0], "executing", "node") == ["1", "2", "3"])
    #expect(Set(of(ids[1], "execution_cached").first?["nodes"] as? [String] ?? []) == ["1", "2", "3"], "\(events)")
    #expect(nodes(ids[1], "executing", "node").isEmpty, "\(events)")
    let replayed = of(ids[1], "executed").first { $0["node"] as? String == "3" }
    let first = of(ids[0], "executed").first { $0["node"] as? String == "3" }
    let firstImages = (first?["output"] as? [String: Any])?["images"] as? [[String: String]]
    #expect(
      firstImages != nil && (replayed?["output"] as? [String: Any])?["images"] as? [[String: String]] == firstImages)
    let history = try json(try api.get("/history/\(ids[1])").body)[ids[1]] as? [String: Any]
    #expect(
      ((history?["outputs"] as? [String: Any])?["3"] as? [String: Any])?["images"] as? [[String: String]] == firstImages
    )
    #expect(Set(of(ids[2], "execution_cached").first?["nodes"] as? [String] ?? []) == ["1", "2"], "\(events)")
    #expect(nodes(ids[2], "executing", "node") == ["3"], "\(events)")
  }

  /// Each answer of the real validate_prompt, byte for byte where the real text was recorded.
  @Test func eachRejectedGraphGetsComfyUIsErrorShape() throws {
    let api = try API.shared.get()
    func rejected(_ prompt: String) throws -> [String: Any] {
      let r = try api.post("/prompt", #"{"prompt": \#(prompt)}"#)
      #expect(r.status == 400, "\(r.body)")
      return try json(r.body)
    }
    let unknown = try rejected(#"{"1": {"class_type": "NoSuchNode", "inputs": {}}}"#)
    #expect((unknown["error"] as? [String: Any])?["type"] as? String == "invalid_prompt")
    #expect(
      (unknown["error"] as? [String: Any])?["message"] as? String
        == "Cannot execute because node NoSuchNode does not exist.")
    #expect((unknown["node_errors"] as? [String: Any])?.isEmpty == true)

    let noOutputs = try rejected(#"{"1": {"class_type": "EmptyImage", "inputs": {}}}"#)
    #expect((noOutputs["error"] as? [String: Any])?["type"] as? String == "prompt_no_outputs")

    let missing = try rejected(Self.builtin.replacingOccurrences(of: #", "color": 3368652"#, with: ""))
    #expect((missing["error"] as? [String: Any])?["type"] as? String == "prompt_outputs_failed_validation")
    let node1 = try #require((missing["node_errors"] as? [String: Any])?["1"] as? [String: Any], "\(missing)")
    #expect(node1["class_type"] as? String == "EmptyImage" && node1["dependent_outputs"] as? [String] == ["3"])
    let missingError = try #require((node1["errors"] as? [[String: Any]])?.first)
    #expect(
      missingError["type"] as? String == "required_input_missing" && missingError["details"] as? String == "color")

    let list = try rejected(
      #"{"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}}, "#
        + #""2": {"class_type": "StandinSink", "inputs": {"value": ["1", 0]}}}"#)
    let errors1 = (list["node_errors"] as? [String: Any])?["1"] as? [String: Any]
    let listError = try #require((errors1?["errors"] as? [[String: Any]])?.first, "\(list)")
    #expect(listError["type"] as? String == "value_not_in_list", "\(list)")
    #expect(listError["details"] as? String == "ckpt_name: 'x.safetensors' not in []", "\(list)")

    let badJSON = try api.post("/prompt", "{nope")
    #expect(badJSON.status == 500)
    let noPrompt = try api.post("/prompt", #"{"client_id": "x"}"#)
    #expect(noPrompt.status == 400 && noPrompt.body.contains(#""type": "no_prompt""#), "\(noPrompt.body)")
  }

  /// A slow prompt shows in queue_running with the next one in queue_pending; POST /queue delete drops the
  /// pending one, /interrupt stops the running one between steps; StandinRaise gives execution_error.
  @Test func theQueueListsRunningAndPendingAndInterruptAndErrorsReachTheClient() throws {
    let api = try API.shared.get()
    let ws = try api.listen(clientID: "client-b", prompts: 2)
    defer { ws.stop() }
    // Another colour than the other tests' prompts: node 1 must run, not come from the cache.
    let slow = Self.builtin.replacingOccurrences(of: "3368652", with: "1193046").replacingOccurrences(
      of: #""2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}"#,
      with:
        #""2": {"class_type": "StandinSlowSteps", "inputs": {"image": ["1", 0], "steps": 600, "seconds_per_step": 0.1}}"#
    )
    let first = try json(try api.post("/prompt", #"{"client_id": "client-b", "prompt": \#(slow)}"#).body)
    let second = try json(try api.post("/prompt", #"{"client_id": "client-b", "prompt": \#(slow)}"#).body)
    let firstID = try #require(first["prompt_id"] as? String)
    let secondID = try #require(second["prompt_id"] as? String)
    #expect(pollUntil(20) { ws.log.contains(#""type": "progress""#) }, "\(ws.log)")
    let queue = try json(try api.get("/queue").body)
    let running = try #require(queue["queue_running"] as? [[Any]])
    let pending = try #require(queue["queue_pending"] as? [[Any]])
    #expect(running.map { $0[1] as? String } == [firstID] && pending.map { $0[1] as? String } == [secondID])
    #expect(running.first?.count == 5 && (running.first?[4] as? [String]) == ["3"], "\(running)")
    #expect(try api.post("/queue", #"{"delete": ["\#(secondID)"]}"#).status == 200)
    #expect((try json(try api.get("/queue").body)["queue_pending"] as? [Any])?.isEmpty == true)
    #expect(try api.post("/interrupt", #"{"prompt_id": "\#(firstID)"}"#).status == 200)

    let failing = Self.builtin.replacingOccurrences(
      of: #""2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}"#,
      with:
        #""2": {"class_type": "StandinRaise", "inputs": {"image": ["1", 0], "exception_type": "ValueError", "message": "no good"}}"#
    )
    #expect(try api.post("/prompt", #"{"client_id": "client-b", "prompt": \#(failing)}"#).status == 200)
    let events = try api.events(ws, count: 2)
    let progress = try #require(events.first { $0["type"] as? String == "progress" }?["data"] as? [String: Any])
    #expect(
      progress["node"] as? String == "2" && progress["max"] as? Int == 600
        && progress["prompt_id"] as? String == firstID)
    let interrupted = try #require(
      events.first { $0["type"] as? String == "execution_interrupted" }?["data"] as? [String: Any], "\(events)")
    #expect(interrupted["node_id"] as? String == "2" && interrupted["node_type"] as? String == "StandinSlowSteps")
    #expect(interrupted["executed"] as? [String] == ["1"])
    let error = try #require(events.first { $0["type"] as? String == "execution_error" }?["data"] as? [String: Any])
    #expect(error["exception_type"] as? String == "ValueError" && error["node_type"] as? String == "StandinRaise")
    #expect((error["exception_message"] as? String)?.hasPrefix("no good") == true, "\(error)")
    for key in ["prompt_id", "node_id", "executed", "traceback", "current_inputs", "current_outputs"] {
      #expect(error[key] != nil, "\(key) missing: \(error)")
    }
    let history = try json(try api.get("/history/\(firstID)").body)
    let status = ((history[firstID] as? [String: Any])?["status"] as? [String: Any])
    #expect(status?["status_str"] as? String == "error" && status?["completed"] as? Bool == false, "\(history)")
  }

  /// As the real ComfyUI-Login: its middleware guards /ws like any route, so an upgrade without the token is
  /// a 401, with the bearer header or ?token= it is a 101.
  @Test func theWebsocketWithoutCredentialsIsRefusedByTheLoginNode() throws {
    let api = try API.shared.get()
    let upgrade = [
      "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]
    // The stand-in itself, behind the gate (which answers a refused upgrade 400: GateTests).
    let ws = "http://127.0.0.1:\(api.home.internalPort)/ws?clientId=x"
    #expect(try curl(ws, headers: upgrade).status == 401)
    let refused = try api.listen(clientID: "nobody", prompts: 1, token: "")
    defer { refused.stop() }
    #expect(refused.wait(timeout: 20)?.status == 1)
    // Through the gate (the client's URL) too: 401.
    #expect(refused.log.hasPrefix("HTTP/1.1 401"), "\(refused.log)")
    let byQuery = try runProcess(
      ["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"]
        + upgrade.flatMap { ["-H", $0] } + [ws + "&token=" + percentEncode(api.home.token)],
      environment: baseEnvironment(), timeout: 20)
    #expect(byQuery.stdout == "101", "\(byQuery.stdout)")
  }
}

/// One comfy-init with auth on, serving the stand-in; requests carry the bearer token.
private final class API: @unchecked Sendable {
  /// One server for the suite: each start bootstraps a venv, which takes most of a minute here. A static is
  /// never deinitialised, so the server is stopped when the test process exits (else it outlives the run).
  static let shared: Result<API, any Error> = {
    let api = Result { try API() }
    atexit {
      if case .success(let api) = API.shared {
        api.server.signal(SIGTERM)  // comfy-init stops ComfyUI on SIGTERM; SIGKILL would leave it behind
        _ = api.server.wait(timeout: 30)
        api.server.stop()
      }
    }
    return api
  }()

  let home = ComfyHome()
  let server: BackgroundProcess

  init() throws {
    server = try home.start()
    guard home.waitUntilServing(server, timeout: 240) else {
      server.stop()
      throw APIError.notServing(server.log)
    }
  }

  deinit { server.stop() }

  var auth: String { "Authorization: Bearer \(home.token)" }

  func get(_ path: String) throws -> CurlResult { try curl(home.baseURL + path, headers: [auth]) }

  func post(_ path: String, _ body: String) throws -> CurlResult {
    let args = [
      "/usr/bin/curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10", "-H", auth, "-H",
      "Content-Type: application/json", "--data-binary", "@-", home.baseURL + path,
    ]
    let r = try runProcess(args, environment: baseEnvironment(), stdin: body, timeout: 20)
    var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let code = Int(lines.popLast() ?? "") ?? 0
    return CurlResult(status: code, headers: "", body: lines.joined(separator: "\n"))
  }

  /// GETs into a file (the body is binary); returns the status, the headers and the file's path.
  func download(_ path: String) throws -> (status: Int, headers: String, path: String) {
    let file = home.tmp.path + "/download-\(UUID().uuidString)"
    let r = try runProcess(
      ["/usr/bin/curl", "-s", "-o", file, "-D", "/dev/stdout", "-w", "%{http_code}", "-H", auth, home.baseURL + path],
      environment: baseEnvironment(), timeout: 20)
    return (Int(r.stdout.suffix(3)) ?? 0, r.stdout, file)
  }

  /// A websocket client (Tests/Fixtures/ws-client) printing every message; it ends after `prompts` prompts.
  func listen(clientID: String, prompts: Int, token: String? = nil) throws -> BackgroundProcess {
    let ws = try BackgroundProcess(
      [
        "/usr/bin/python3", Paths.fixtures + "/ws-client/ws-record.py", home.baseURL, clientID, token ?? home.token,
        String(prompts),
      ], environment: baseEnvironment(), log: home.tmp.path + "/ws-\(clientID).log")
    if token != "" {
      #expect(pollUntil(20) { ws.log.contains(#""sid": "\#(clientID)""#) }, "\(ws.log)")
    }
    return ws
  }

  /// The messages the client got, once it saw `count` prompts end.
  func events(_ ws: BackgroundProcess, count: Int) throws -> [[String: Any]] {
    #expect(ws.wait(timeout: 90)?.status == 0, "\(ws.log)")
    return try ws.log.split(separator: "\n").dropFirst().filter { $0.hasPrefix("{") }.map { try json(String($0)) }
  }
}

private enum APIError: Error { case notServing(String) }

private func json(_ text: String) throws -> [String: Any] {
  try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
}

/// "WxH rgb RRGGBB uniform" for an 8-bit RGB PNG whose rows all use filter 0 and one colour, else what it
/// found; the IDAT stream is inflated by Python's zlib (Swift here has no inflater).
private func pixels(of path: String) throws -> String {
  let script = """
    import struct, sys, zlib
    d = open(sys.argv[1], "rb").read(); i = 8; idat = b""
    while i < len(d):
        n, = struct.unpack(">I", d[i:i + 4]); t = d[i + 4:i + 8]; c = d[i + 8:i + 8 + n]; i += 12 + n
        if t == b"IHDR": w, h, depth, kind = struct.unpack(">IIBB", c[:10])
        if t == b"IDAT": idat += c
    raw = zlib.decompress(idat); rows = [raw[y * (3 * w + 1):(y + 1) * (3 * w + 1)] for y in range(h)]
    colours = {r[1 + 3 * x:4 + 3 * x] for r in rows for x in range(w)}
    filters = {r[0] for r in rows}
    ok = depth == 8 and kind == 2 and filters == {0} and len(colours) == 1
    print(f"{w}x{h} rgb {next(iter(colours)).hex()} uniform" if ok else f"{w}x{h} depth {depth} kind {kind} {len(colours)} colours")
    """
  let r = try runProcess(["/usr/bin/python3", "-c", script, path], environment: baseEnvironment(), timeout: 20)
  return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + r.stderr
}
