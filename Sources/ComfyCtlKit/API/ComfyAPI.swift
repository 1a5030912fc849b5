// The one owner of how comfyctl talks to ComfyUI's API: the base URL, the bearer token, the client id,
// and each request `generate` makes (POST /prompt, /interrupt, /queue, GET /view, the /ws stream),
// with every HTTP failure turned into the CtlError a person can act on. Every request comfyctl sends
// reaches HTTPClient through `exchange`, and only `bearer` spells a credential header (OwnerTests).
import Foundation
import HTTPClient

public struct ComfyAPI: Sendable {
  public let baseURL: String
  /// The bearer token (the hash from the secrets store); nil for a server without ComfyUI-Login.
  public let token: String?
  /// Sent with every prompt and on /ws, so the server sends this client its prompts' events.
  public let clientID: String
  public var timeout = 30.0

  public init(baseURL: String, token: String?, clientID: String = UUID().uuidString.lowercased()) {
    var url = baseURL
    while url.hasSuffix("/") { url.removeLast() }
    self.baseURL = url
    self.token = token
    self.clientID = clientID
  }

  /// `Authorization: Bearer TOKEN`: the one place comfyctl spells a credential header.
  static func bearer(_ token: String) -> (name: String, value: String) { ("Authorization", "Bearer " + token) }

  var authorization: [(name: String, value: String)] { token.map { [ComfyAPI.bearer($0)] } ?? [] }

  /// The one door to HTTPClient: the API calls here (`send`), and validate's matrix and the auth gate
  /// (AuthProbe, which sends what a stranger or a wrong token would and expects refusals).
  static func exchange(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
    try HTTPClient.send(request)
  }

  /// GET /system_stats with the token: the answer's status, nil when nothing answers. `secrets check`
  /// asks it of each running server, which reads login/PASSWORD only when it starts.
  public func checkToken(timeout: Double = 5) -> Int? {
    try? ComfyAPI.exchange(HTTPRequest(url: baseURL + "/system_stats", headers: authorization, timeout: timeout)).status
  }

  /// POST /prompt: the prompt id, and node_errors of a graph the server accepted (it runs the outputs
  /// that validated and skips the others), one clause per problem. A graph the server refuses (no
  /// output validated) is `.workflowRejected`, with the same clauses.
  public func submit(_ prompt: [String: Any]) throws(CtlError) -> (promptID: String, nodeErrors: [String]) {
    let body = (try? JSONSerialization.data(withJSONObject: ["prompt": prompt, "client_id": clientID])) ?? Data()
    let response = try send("POST", "/prompt", json: body)
    let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    if response.status == 200, let id = json["prompt_id"] as? String { return (id, ComfyAPI.nodeErrorClauses(json)) }
    throw CtlError(
      .workflowRejected,
      "the server rejected the workflow: " + ComfyAPI.describeRejection(json, status: response.status))
  }

  /// Stops the prompt if it runs and removes it from the queue if it waits: a client that gives up
  /// leaves no work behind.
  public func cancel(promptID: String) {
    let id = (try? JSONSerialization.data(withJSONObject: ["prompt_id": promptID])) ?? Data()
    _ = try? send("POST", "/interrupt", json: id)
    let delete = (try? JSONSerialization.data(withJSONObject: ["delete": [promptID]])) ?? Data()
    _ = try? send("POST", "/queue", json: delete)
  }

  /// The prompt ids GET /queue lists as running or pending.
  public func queuedPromptIDs() throws(CtlError) -> [String] {
    let response = try send("GET", "/queue")
    let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    let items = (json["queue_running"] as? [[Any]] ?? []) + (json["queue_pending"] as? [[Any]] ?? [])
    return items.compactMap { $0.count > 1 ? $0[1] as? String : nil }
  }

  /// GET /view of one output image.
  public func download(_ image: OutputImage) throws(CtlError) -> [UInt8] {
    let query = [("filename", image.filename), ("subfolder", image.subfolder), ("type", image.type)]
      .map { "\($0.0)=\(percentEncode($0.1))" }.joined(separator: "&")
    let response = try send("GET", "/view?" + query, maxBody: 512 << 20)
    guard response.status == 200 else {
      throw CtlError(.executionFailed, "GET /view of \(image.filename) answered \(response.status)")
    }
    return response.body
  }

  /// The /ws event stream for this client, opened with the token.
  public func openEvents() throws(CtlError) -> WebSocket {
    let url = baseURL + "/ws?clientId=" + clientID
    guard !url.hasPrefix("https://") else {
      throw CtlError(.badInput, "\(baseURL): comfyctl follows the event stream over plain HTTP only; use http://")
    }
    do {
      return try WebSocket(url: url, headers: authorization)
    } catch {
      if error.status == 401 { throw unauthorized("/ws") }
      if error.status == nil && error.message.hasPrefix("cannot connect") { throw unreachable(error.message) }
      throw CtlError(.executionFailed, "the event stream at \(url) failed: \(error.message)")
    }
  }

  // MARK: requests

  func send(_ method: String, _ path: String, json: Data? = nil, maxBody: Int = 16 << 20) throws(CtlError)
    -> HTTPResponse
  {
    var headers = authorization
    if json != nil { headers.append(("Content-Type", "application/json")) }
    let request = HTTPRequest(
      method: method, url: baseURL + path, headers: headers, body: json.map { Array($0) }, timeout: timeout,
      maxBodyBytes: maxBody)
    let response: HTTPResponse
    do {
      response = try ComfyAPI.exchange(request)
    } catch {
      throw unreachable(error.message)
    }
    if response.status == 401 { throw unauthorized("\(method) \(path.split(separator: "?").first ?? "")") }
    return response
  }

  func unreachable(_ why: String) -> CtlError {
    CtlError(.serverUnreachable, "no ComfyUI answers at \(baseURL) (\(why)); start it with `comfyctl up`")
  }

  func unauthorized(_ what: String) -> CtlError {
    let sent = token == nil ? "no token was sent (no secrets store)" : "the token from the secrets store was refused"
    return CtlError(
      .unauthorized, "\(what) answered 401: \(sent); run `comfyctl secrets check` to compare it with the server's")
  }

  // MARK: answers

  /// ComfyUI's /prompt refusal as one line: each node error as "node 4 (CheckpointLoaderSimple)
  /// input ckpt_name: ...", or the top-level error when no node is named (an unknown class).
  static func describeRejection(_ json: [String: Any], status: Int) -> String {
    let clauses = nodeErrorClauses(json)
    if !clauses.isEmpty { return clauses.joined(separator: "; ") }
    let error = json["error"] as? [String: Any]
    let message = error?["message"] as? String ?? (json["error"] as? String) ?? "HTTP \(status)"
    let details = error?["details"] as? String ?? ""
    return details.isEmpty ? message : "\(message) (\(details))"
  }

  /// Each error of each node in an answer's node_errors, in node order: "node 4 (CheckpointLoaderSimple)
  /// input ckpt_name: ...".
  static func nodeErrorClauses(_ json: [String: Any]) -> [String] {
    let nodeErrors = json["node_errors"] as? [String: Any] ?? [:]
    var clauses: [String] = []
    for (node, value) in nodeErrors.sorted(by: { $0.key.localizedStandardCompare($1.key) == .orderedAscending }) {
      let entry = value as? [String: Any] ?? [:]
      let classType = entry["class_type"] as? String ?? "?"
      for error in entry["errors"] as? [[String: Any]] ?? [] {
        clauses.append("node \(node) (\(classType)) " + describeNodeError(error))
      }
    }
    return clauses
  }

  /// Where ComfyUI looks for the files a loader's list offers, by input name.
  static let modelFolders = [
    "ckpt_name": "models/checkpoints", "lora_name": "models/loras", "vae_name": "models/vae",
    "control_net_name": "models/controlnet", "unet_name": "models/diffusion_models",
    "clip_name": "models/text_encoders", "upscale_model_name": "models/upscale_models",
  ]

  static func describeNodeError(_ error: [String: Any]) -> String {
    let extra = error["extra_info"] as? [String: Any] ?? [:]
    let input = extra["input_name"] as? String
    let message = error["message"] as? String ?? "invalid"
    let details = error["details"] as? String ?? ""
    if error["type"] as? String == "value_not_in_list", let input {
      let value = extra["received_value"].map { "\($0)" } ?? "?"
      // input_config is [[choices...], {...}] for a list of up to 20; longer ones say "(list of length N)".
      let choices = ((extra["input_config"] as? [Any])?.first as? [Any])?.count ?? lengthInDetails(details)
      let what = modelFolders[input].map { "files in \($0)" } ?? "choices"
      return "input \(input): '\(value)' is not among the \(choices.map(String.init) ?? "offered") \(what)"
    }
    guard let input else { return details.isEmpty ? message : "\(message): \(details)" }
    return details.isEmpty || details == input
      ? "input \(input): \(message)" : "input \(input): \(message) (\(details))"
  }

  private static func lengthInDetails(_ details: String) -> Int? {
    guard let range = details.range(of: "(list of length ") else { return nil }
    return Int(details[range.upperBound...].prefix { $0.isNumber })
  }
}

/// One image an output node reported in its `executed` event.
public struct OutputImage: Sendable, Equatable {
  public var filename: String
  public var subfolder: String
  public var type: String
}
