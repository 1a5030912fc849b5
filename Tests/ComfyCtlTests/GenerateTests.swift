// `comfyctl generate` against comfy-init serving the stand-in ComfyUI with auth on, on this host (no
// Docker): the built-in workflow's PNG, a workflow file repeated, and each error a user meets with
// its exit code and its line. validate's last row, "generates an image", is in ValidateTests.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct GenerateTests {
  struct Report: Decodable {
    struct Run: Decodable {
      var seconds: Double
      var files: [String]
    }
    struct Stats: Decodable {
      var median: Double
      var min: Double
      var max: Double
    }
    var runs: [Run]
    var secondsPerImage: Stats?
  }

  static func node(_ type: String, _ inputs: [String: Any]) -> [String: Any] {
    ["class_type": type, "inputs": inputs]
  }

  /// EmptyImage -> `middle` (fed the image) -> SaveImage, as a workflow file.
  static func workflow(_ dir: CtlTempDir, _ name: String, middle: [String: Any]? = nil, seed: Int? = nil) -> String {
    var prompt = BuiltinWorkflow(color: 0x3366CC).prompt
    if var middle {
      var inputs = middle["inputs"] as? [String: Any] ?? [:]
      inputs["image"] = ["1", 0]
      if let seed { inputs["seed"] = seed }
      middle["inputs"] = inputs
      prompt["2"] = middle
    }
    let data = try! JSONSerialization.data(withJSONObject: prompt)
    dir.write(name, String(decoding: data, as: UTF8.self))
    return dir.file(name)
  }

  @Test(.timeLimit(.minutes(10))) func generateThroughTheAuthenticatedAPIAndEveryError() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    try #require(FileManager.default.isExecutableFile(atPath: CtlPaths.comfyInit), "run scripts/build first")
    let (dir, project) = makeProject("generate")
    let host = HostComfyUI()
    defer { host.stop() }
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    try host.start(hashFile: project.hashFile)
    let generate = { (args: [String]) throws -> RunResult in
      try runTool(
        [bin, "generate", "--project-dir", dir.path, "--url", host.url, "--output", dir.file("out")] + args,
        timeout: 120)
    }

    // The built-in workflow: one PNG, checked by comfyctl, and checked here again.
    let builtin = try generate(["--builtin"])
    #expect(builtin.status == 0, "\(builtin.all)")
    #expect(builtin.stdout.contains("comfyctl-builtin_00001_.png in "), "\(builtin.all)")
    #expect(builtin.stdout.contains("node 3 (SaveImage) running"), "\(builtin.all)")
    let png = try PNGImage(
      Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("out/comfyctl-builtin_00001_.png")))))
    #expect(png.width == 64 && png.height == 64)
    #expect(Set(png.pixels).count == 1, "the built-in workflow makes one colour")
    // Repeated (and after the run above), every run executes: none is answered from ComfyUI's cache.
    let again = try generate(["--builtin", "--repeat", "2"])
    #expect(again.status == 0, "\(again.all)")
    #expect(again.stdout.contains("per image over 2 runs"), "\(again.all)")
    #expect(!again.stdout.contains("cache"), "a repeated built-in run came from the cache: \(again.all)")

    // A workflow file, twice, as JSON: each run new (seed moved on), with median/min/max per image.
    let slow = GenerateTests.workflow(
      dir, "slow.json", middle: GenerateTests.node("StandinSlowSteps", ["steps": 3, "seconds_per_step": 0.1]))
    let twice = try generate([slow, "--repeat", "2", "--json"])
    #expect(twice.status == 0, "\(twice.all)")
    let report = try JSONDecoder().decode(Report.self, from: Data(twice.stdout.utf8))
    // (No seed input here: the stand-in passes undeclared inputs to the node, the real ComfyUI drops them.)
    #expect(report.runs.count == 2 && report.runs.allSatisfy { $0.files.count == 1 }, "\(twice.stdout)")
    let stats = try #require(report.secondsPerImage)
    #expect(stats.min <= stats.median && stats.median <= stats.max)
    // Plain lines (no terminal): the sampler's steps, one line each.
    let steps = try generate([
      GenerateTests.workflow(
        dir, "steps.json", middle: GenerateTests.node("StandinSlowSteps", ["steps": 4, "seconds_per_step": 0.1]))
    ])
    #expect(steps.stdout.contains("node 2 (StandinSlowSteps) step 4/4"), "\(steps.all)")

    // The file is not JSON; a UI-format workflow.
    dir.write("notes.json", "KSampler, 20 steps\n")
    let notJSON = try generate([dir.file("notes.json")])
    #expect(notJSON.status == CtlExitCode.workflowNotJSON.rawValue, "\(notJSON.all)")
    #expect(notJSON.stderr.hasPrefix("comfyctl: \(dir.file("notes.json")) is not JSON ("), "\(notJSON.stderr)")
    dir.write("ui.json", #"{"last_node_id": 9, "nodes": [{"id": 4, "type": "KSampler"}], "links": []}"#)
    let ui = try generate([dir.file("ui.json")])
    #expect(ui.status == CtlExitCode.workflowUIFormat.rawValue, "\(ui.all)")
    #expect(ui.stderr.contains("is a UI-format workflow") && ui.stderr.contains("Save (API)"), "\(ui.stderr)")

    // The server rejects the graph: its node_errors, one clause each.
    // (Every output invalid: with one good output ComfyUI runs that and answers 200.)
    var rejected: [String: Any] = [:]
    rejected["4"] = GenerateTests.node("CheckpointLoaderSimple", ["ckpt_name": "x.safetensors"])
    rejected["5"] = GenerateTests.node("SaveImage", ["images": ["4", 2]])
    dir.write("bad.json", String(decoding: try JSONSerialization.data(withJSONObject: rejected), as: UTF8.self))
    let bad = try generate([dir.file("bad.json")])
    #expect(bad.status == CtlExitCode.workflowRejected.rawValue, "\(bad.all)")
    // (The type check comes first, as in the real ComfyUI; the real server's "is not among the N files in
    // models/checkpoints" clause was checked by hand, see docs/comfyctl.md.)
    #expect(
      bad.stderr.contains(
        "node 5 (SaveImage) input images: Return type mismatch between linked nodes (images, received_type(VAE) "
          + "mismatch input_type(IMAGE))"), "\(bad.stderr)")
    #expect(bad.stderr.contains("node 5 (SaveImage) input filename_prefix: Required input is missing"), "\(bad.stderr)")

    // One output valid, one not: ComfyUI answers 200 with node_errors and runs the valid one. They are
    // warnings, and the image still comes.
    var partial = BuiltinWorkflow(color: 0x3366CC).prompt
    for (id, node) in rejected { partial[id] = node }
    dir.write("partial.json", String(decoding: try JSONSerialization.data(withJSONObject: partial), as: UTF8.self))
    let half = try generate([dir.file("partial.json")])
    #expect(half.status == 0, "\(half.all)")
    #expect(
      half.stderr.contains(
        "comfyctl: warning: the server skips what depends on node 5 (SaveImage) input filename_prefix: "
          + "Required input is missing"), "\(half.stderr)")
    #expect(half.stdout.contains("comfyctl-builtin_0000"), "\(half.all)")

    // The execution fails: the exception's type and message, and the node.
    let raise = GenerateTests.workflow(
      dir, "raise.json",
      middle: GenerateTests.node("StandinRaise", ["exception_type": "ValueError", "message": "boom"]))
    let failed = try generate([raise])
    #expect(failed.status == CtlExitCode.executionFailed.rawValue, "\(failed.all)")
    #expect(failed.stderr == "comfyctl: node 2 (StandinRaise) failed: ValueError: boom\n", "\(failed.stderr)")

    // A timeout: interrupted and dequeued, so the server has no work left.
    let long = GenerateTests.workflow(
      dir, "long.json", middle: GenerateTests.node("StandinSlowSteps", ["steps": 600, "seconds_per_step": 0.1]))
    let timedOut = try generate([long, "--timeout", "2"])
    #expect(timedOut.status == CtlExitCode.generateTimeout.rawValue, "\(timedOut.all)")
    #expect(timedOut.stderr.contains("it was interrupted and removed from the queue"), "\(timedOut.stderr)")
    let credential = try SecretsStore(project: project).load()
    let queue = try ComfyAPI(baseURL: host.url, token: credential.hash).queuedPromptIDs()
    #expect(queue.isEmpty, "\(queue)")

    // 401: a project whose token is not the server's.
    let (other, _) = makeProject("generate-other")
    #expect(try runTool([bin, "secrets", "init", "--project-dir", other.path]).status == 0)
    let refused = try runTool([bin, "generate", "--builtin", "--project-dir", other.path, "--url", host.url])
    #expect(refused.status == CtlExitCode.unauthorized.rawValue, "\(refused.all)")
    #expect(refused.stderr.contains("answered 401") && refused.stderr.contains("`comfyctl secrets check`"))

    // A server slow to register the event stream (the stand-in answers the upgrade, then waits before it
    // files the socket under our client id): a prompt submitted at once would run and send its events
    // to nobody. generate waits for the server's greeting first, so it still gets them.
    try host.start(hashFile: project.hashFile, extra: ["STANDIN_WS_REGISTER_DELAY": "1.5"])
    let slowSocket = try generate(["--builtin", "--timeout", "20"])
    #expect(slowSocket.status == 0, "\(slowSocket.all)")

    // The server is down.
    host.stop()
    let down = try generate(["--builtin"])
    #expect(down.status == CtlExitCode.serverUnreachable.rawValue, "\(down.all)")
    #expect(down.stderr.hasPrefix("comfyctl: no ComfyUI answers at \(host.url) ("), "\(down.stderr)")
    #expect(down.stderr.hasSuffix("; start it with `comfyctl up`\n"), "\(down.stderr)")
  }
}
