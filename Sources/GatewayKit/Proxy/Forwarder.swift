// One HTTP request to ComfyUI on loopback: the client's method, target, headers and body streamed as
// they come (uploads are large), the gate's own credential instead of the client's, the answer
// streamed back. Host and Origin go up unchanged: ComfyUI's origin check and ComfyUI-Login's CORS rule
// must see what they see without the gate.
import AsyncHTTPClient
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

struct Forwarder: Sendable {
  let client: HTTPClient
  /// "http://127.0.0.1:18188"
  let upstream: String
  let log: GateLog

  /// Headers that describe one connection, not the request (RFC 9110 7.6.1), and the client's
  /// credential: none of them crosses the gate.
  static let notForwarded: Set<String> = [
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "proxy-authorization", "proxy-authenticate", "authorization", "content-length",
  ]

  static func makeClient() -> HTTPClient {
    var configuration = HTTPClient.Configuration()
    configuration.redirectConfiguration = .disallow
    configuration.decompression = .disabled
    // Connect fails fast (ComfyUI is on this machine); a read may wait for a long queue or a big file.
    configuration.timeout = .init(connect: .seconds(5), read: .seconds(600))
    configuration.connectionPool = .init(idleTimeout: .seconds(60))
    // A ComfyUI that is down (starting, restarting) answers 502 at once; with retries, the first request
    // after it came back waited for the next step of a growing backoff.
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
  }

  func forward(_ request: Request, target: RequestTarget, token: String?) async -> Response {
    var upstreamRequest = HTTPClientRequest(url: upstream + target.upstream)
    upstreamRequest.method = HTTPMethod(rawValue: request.method.rawValue)
    // swift-http-types keeps Host as the request's authority, outside its header fields.
    if let authority = request.head.authority { upstreamRequest.headers.add(name: "Host", value: authority) }
    var dropped = Forwarder.notForwarded
    for connection in request.headers[values: .connection] {
      for name in connection.split(separator: ",") { dropped.insert(name.trimmingSpaces.lowercased()) }
    }
    for field in request.headers where !dropped.contains(field.name.canonicalName) {
      if field.name == .cookie {
        if let kept = SessionCookie.withoutOurs(field.value) {
          upstreamRequest.headers.add(name: "Cookie", value: kept)
        }
      } else {
        upstreamRequest.headers.add(name: field.name.rawName, value: field.value)
      }
    }
    if let token { upstreamRequest.headers.add(name: "Authorization", value: Credential.bearer(token)) }
    let length = request.headers[.contentLength].flatMap { Int64($0) }
    let streamed = (length ?? 0) > 0 || length == nil && request.headers[.transferEncoding] != nil
    guard streamed else { return await send(upstreamRequest, request: request, target: target, pipe: nil) }
    // The body goes through a pipe the gate reads: its reader has ended when this returns (BodyPipe).
    let pipe = BodyPipe()
    upstreamRequest.body = .stream(pipe, length: length.map { .known($0) } ?? .unknown)
    return await withTaskGroup(of: Void.self) { group in
      group.addTask { await pipe.pump(from: request.body) }
      let response = await send(upstreamRequest, request: request, target: target, pipe: pipe)
      pipe.end(nil)
      group.cancelAll()
      await group.waitForAll()
      return response
    }
  }

  /// Sends the request and turns ComfyUI's answer (or its silence) into the gate's.
  private func send(_ upstreamRequest: HTTPClientRequest, request: Request, target: RequestTarget, pipe: BodyPipe?)
    async -> Response
  {
    let response: HTTPClientResponse
    do {
      response = try await client.execute(upstreamRequest, deadline: .distantFuture)
    } catch {
      if pipe?.clientWentAway == true {
        log.info("\(request.method.rawValue) \(target.redacted): the client went away during its request body")
        return Gate.json(.badRequest, #"{"error": "The request body ended early."}"#)
      }
      log.warn("\(request.method.rawValue) \(target.redacted): ComfyUI did not answer: \(error)")
      return Gate.json(.badGateway, #"{"error": "ComfyUI is not answering (starting, restarting or stopped)"}"#)
    }
    var headers = HTTPFields()
    for field in response.headers {
      let lower = field.name.lowercased()
      guard lower != "transfer-encoding" && lower != "connection" && lower != "keep-alive",
        let name = HTTPField.Name(field.name)
      else { continue }
      headers.append(HTTPField(name: name, value: field.value))
    }
    return Response(
      status: .init(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase),
      headers: headers, body: ResponseBody(asyncSequence: response.body))
  }
}
