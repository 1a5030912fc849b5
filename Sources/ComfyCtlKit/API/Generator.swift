// One generation through the API: the workflow read and checked, submitted, followed on /ws with
// live progress, and its output images downloaded. `generate` and validate's last row use it.
import Foundation
import Spawn

public struct Generation: Sendable {
  public var promptID: String
  /// From POST /prompt to the last image written.
  public var seconds: Double
  public var files: [String]
  /// Every node came from ComfyUI's cache: nothing was computed.
  public var cached: Bool
}

public struct Generator {
  public let api: ComfyAPI
  public var timeout: Double
  public var console: Console?

  public init(api: ComfyAPI, timeout: Double, console: Console?) {
    self.api = api
    self.timeout = timeout
    self.console = console
  }

  /// The API-format prompt in a workflow file: refuses what is not JSON and ComfyUI's UI format.
  public static func loadWorkflow(_ path: String) throws(CtlError) -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw CtlError(.badInput, "\(path) does not exist or cannot be read")
    }
    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw CtlError(.workflowNotJSON, "\(path) is not JSON (\(describe(error))); export the workflow with Save (API)")
    }
    guard var object = parsed as? [String: Any] else {
      throw CtlError(.workflowNotJSON, "\(path) is JSON but not an object of nodes; export it with Save (API)")
    }
    // A /prompt body ({"prompt": {...}}) is accepted as it stands.
    if let inner = object["prompt"] as? [String: Any], object.count <= 3 { object = inner }
    if object["nodes"] is [Any] && object["links"] != nil {
      throw CtlError(
        .workflowUIFormat,
        "\(path) is a UI-format workflow (it has \"nodes\" and \"links\"); the API needs the API format: in "
          + "ComfyUI's menu choose Workflow > Export (API), called Save (API) in older versions, and pass that file")
    }
    let notNodes = object.filter { ($0.value as? [String: Any])?["class_type"] == nil }.map(\.key).sorted()
    guard notNodes.isEmpty, !object.isEmpty else {
      let which = notNodes.isEmpty ? "it has no nodes" : "\(notNodes.prefix(3).joined(separator: ", ")) lack class_type"
      throw CtlError(.workflowUIFormat, "\(path) is not an API-format workflow (\(which)); export it with Save (API)")
    }
    return object
  }

  /// Runs `prompt` and writes its output images into `outputDir`.
  public func run(_ prompt: [String: Any], outputDir: String) throws(CtlError) -> Generation {
    let events = try api.openEvents()
    defer { events.close() }
    let start = Instant.now()
    let deadline = start.adding(seconds: timeout)
    try awaitRegistration(events, until: deadline)
    let (promptID, nodeErrors) = try api.submit(prompt)
    // Accepted with some outputs invalid: ComfyUI runs the others. On stderr, also with --json.
    for clause in nodeErrors { Console().warn("warning: the server skips what depends on " + clause) }
    var images: [OutputImage] = []
    var cachedNodes = 0
    var node = ""
    while true {
      guard let (type, data) = try nextEvent(events, until: deadline, ending: "before the prompt finished") else {
        throw timedOut(promptID)
      }
      guard let data else { continue }
      if let id = data["prompt_id"] as? String, id != promptID { continue }
      switch type {
      case "execution_cached":
        cachedNodes = (data["nodes"] as? [Any])?.count ?? 0
      case "executing":
        guard let id = data["node"] as? String else { continue }
        node = id
        console?.progress("node \(id) (\(classType(of: id, in: prompt))) running")
      case "progress":
        let value = data["value"] as? Int ?? 0
        let max = data["max"] as? Int ?? 0
        let id = data["node"] as? String ?? node
        console?.progress("node \(id) (\(classType(of: id, in: prompt))) step \(value)/\(max) \(bar(value, max))")
      case "executed":
        let output = data["output"] as? [String: Any] ?? [:]
        for entry in output["images"] as? [[String: Any]] ?? [] {
          guard let name = entry["filename"] as? String, (entry["type"] as? String ?? "output") == "output" else {
            continue
          }
          images.append(OutputImage(filename: name, subfolder: entry["subfolder"] as? String ?? "", type: "output"))
        }
      case "execution_error":
        console?.endProgress()
        let id = data["node_id"].map { "\($0)" } ?? node
        let kind = data["node_type"] as? String ?? classType(of: id, in: prompt)
        let exception = data["exception_type"] as? String ?? "error"
        let message = (data["exception_message"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        throw CtlError(.executionFailed, "node \(id) (\(kind)) failed: \(exception): \(message)")
      case "execution_interrupted":
        console?.endProgress()
        throw CtlError(.executionFailed, "the prompt was interrupted on the server (node \(data["node_id"] ?? node))")
      case "execution_success":
        console?.endProgress()
        let files = try save(images, into: outputDir)
        return Generation(
          promptID: promptID, seconds: start.secondsSince, files: files,
          cached: cachedNodes > 0 && cachedNodes == prompt.count)
      default: continue
      }
    }
  }

  /// Waits for the server's first `status` message, which carries this client's `sid`: ComfyUI sends
  /// it once the socket is registered under our client id. A prompt submitted before that could run
  /// and send its events to an id that has no socket yet: they would be lost, and the wait would end
  /// only at the timeout (seen on a loaded machine with a prompt that runs in milliseconds).
  private func awaitRegistration(_ events: WebSocket, until deadline: Instant) throws(CtlError) {
    while let (type, _) = try nextEvent(events, until: deadline, ending: "before the server greeted it") {
      if type == "status" { return }
    }
    throw CtlError(.generateTimeout, "the event stream sent nothing within \(Console.seconds(timeout))")
  }

  /// The next JSON event on the stream, its `type` and `data`; nil at the deadline. Binary frames (the
  /// previews) and text that is not an event are skipped. `ending` says, in the error, what the stream
  /// ended before.
  private func nextEvent(_ events: WebSocket, until deadline: Instant, ending: String) throws(CtlError) -> (
    String, [String: Any]?
  )? {
    while true {
      let message: WebSocket.Message?
      do {
        message = try events.receive(until: deadline)
      } catch {
        throw CtlError(.executionFailed, "the event stream ended \(ending): \(error.message)")
      }
      guard let message else { return nil }
      guard case .text(let text) = message,
        let event = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
        let type = event["type"] as? String
      else { continue }
      return (type, event["data"] as? [String: Any])
    }
  }

  private func timedOut(_ promptID: String) -> CtlError {
    console?.endProgress()
    api.cancel(promptID: promptID)
    let gone = (try? api.queuedPromptIDs()).map { !$0.contains(promptID) }
    let outcome = gone == true ? "it was interrupted and removed from the queue" : "interrupting it may have failed"
    return CtlError(
      .generateTimeout,
      "no result within \(Console.seconds(timeout)) (prompt \(promptID)); \(outcome); raise --timeout for longer work")
  }

  private func save(_ images: [OutputImage], into dir: String) throws(CtlError) -> [String] {
    do {
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
      throw CtlError(.filesystem, "cannot create \(dir): \(describe(error))")
    }
    var files: [String] = []
    for image in images {
      let bytes = try api.download(image)
      let path = (dir as NSString).appendingPathComponent((image.filename as NSString).lastPathComponent)
      guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
        throw CtlError(.filesystem, "cannot write \(path)")
      }
      files.append(path)
    }
    return files
  }

  private func classType(of node: String, in prompt: [String: Any]) -> String {
    (prompt[node] as? [String: Any])?["class_type"] as? String ?? "?"
  }

  private func bar(_ value: Int, _ max: Int) -> String {
    guard console?.isTerminal == true, max > 0 else { return "" }
    let filled = Swift.max(0, Swift.min(20, value * 20 / max))
    return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled) + "]"
  }
}

private func describe(_ error: any Error) -> String {
  (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
}

extension Generator {
  /// `prompt` with every integer `seed` and `noise_seed` input moved on by `run`, so that a repeated
  /// run computes again instead of coming from ComfyUI's cache.
  public static func reseeded(_ prompt: [String: Any], run: Int) -> [String: Any] {
    prompt.mapValues { value in
      guard var node = value as? [String: Any], var inputs = node["inputs"] as? [String: Any] else { return value }
      for key in ["seed", "noise_seed"] {
        if let seed = inputs[key] as? Int { inputs[key] = seed &+ run }
      }
      node["inputs"] = inputs
      return node
    }
  }
}
