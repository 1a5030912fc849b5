// The gate: every request to ComfyUI passes here, as a checklist.
//   1. the gate's own probes (/livez, /readyz) need nothing;
//   2. before comfy-init has sent the credential, everything else waits (503);
//   3. the gate's login and logout pages;
//   4. everyone else shows a credential (Authenticator), or is a guest on the allow-list when
//      COMFYUI_GUEST_MODE=1 (GuestPolicy);
//   5. then the request goes to ComfyUI with the gate's token (Forwarder, WebSocketRelay).
// An unauthenticated browser is sent to /login, an API client gets 401, as with ComfyUI-Login.
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

public struct GateRequestContext: RequestContext {
  public var coreContext: CoreRequestContextStorage
  let remoteAddress: SocketAddress?

  public init(source: ApplicationRequestContextSource) {
    coreContext = .init(source: source)
    remoteAddress = source.channel.remoteAddress
  }
}

struct GateSettings: Sendable {
  var guestMode: Bool
  var sessionMaxAge: Int
  var clientAddress: ClientAddress
  var accessLog: Bool
}

struct Gate: HTTPResponder {
  typealias Context = GateRequestContext

  let settings: GateSettings
  let authenticator: Authenticator
  let forwarder: Forwarder
  let relay: WebSocketRelay
  let readiness: Readiness
  let log: GateLog

  func respond(to request: Request, context: Context) async throws -> Response {
    let target = RequestTarget(request.head.path ?? "/")
    let response = await answer(request, target: target, remote: context.remoteAddress)
    if settings.accessLog || response.status.code >= 400 && response.status != .notFound {
      log.info("\(request.method.rawValue) \(target.redacted) \(response.status.code)")
    }
    return response
  }

  private func answer(_ request: Request, target: RequestTarget, remote: SocketAddress?) async -> Response {
    // Only origin-form targets ("/path?query") name something upstream: CONNECT's "host:port" (or an
    // asterisk) would become part of the upstream URL.
    guard request.method != .connect, target.path.hasPrefix("/") else {
      return Gate.json(.badRequest, #"{"error": "The gate takes requests for paths only."}"#)
    }
    switch target.path {
    case "/livez": return Gate.text(.ok, "alive\n")
    case "/readyz":
      if let reason = await readiness.notReadyReason() { return Gate.text(.serviceUnavailable, reason + "\n") }
      return Gate.text(.ok, "ready\n")
    default: break
    }
    guard let current = authenticator.store.value else {
      var response = Gate.json(.serviceUnavailable, #"{"error": "ComfyUI is starting"}"#)
      response.headers[.retryAfter] = "5"
      return response
    }
    let client = clientView(request.headers, remote: remote)
    switch target.path {
    case "/login": return await login(request, target: target, client: client)
    case "/logout":
      var response = Gate.redirect(to: "/login")
      response.headers[.setCookie] = SessionCookie.expiredCookie(secure: client.https)
      return response
    default: break
    }
    // A CORS preflight carries no credential by design. ComfyUI answers every OPTIONS in its outermost
    // middleware (cors_middleware with --enable-cors-header, else origin_only_middleware) before any
    // handler or ComfyUI-Login runs: it goes up without the gate's token, so it can open nothing.
    if request.method == .options, request.headers[.origin] != nil,
      request.headers[.accessControlRequestMethod] != nil
    {
      return await forwarder.forward(request, target: target, token: nil)
    }
    let verdict = await authenticator.verdict(
      authorization: request.headers[values: .authorization], queryToken: target.token,
      cookies: request.headers[values: .cookie], client: client.address)
    switch verdict {
    case .user:
      return await forwarder.forward(request, target: target, token: current.credential.hash)
    case .anonymous where settings.guestMode && GuestPolicy.allows(method: request.method.rawValue, target: target):
      return await forwarder.forward(request, target: target, token: current.credential.hash)
    case .anonymous:
      return Gate.refusal(accept: request.headers[values: .accept])
    case .malformed, .wrong:
      return Gate.json(.unauthorized, #"{"error": "Authentication required."}"#)
    case .throttled(let seconds): return Gate.retryLater(.tooManyRequests, after: seconds, "Too many login attempts")
    case .busy: return Gate.retryLater(.serviceUnavailable, after: 1, "Busy checking passwords")
    }
  }

  /// GET shows the form (or sends a logged-in browser on to /); POST checks it.
  private func login(_ request: Request, target: RequestTarget, client: ClientView) async -> Response {
    guard let current = authenticator.store.value else { return Gate.text(.serviceUnavailable, "starting\n") }
    guard request.method == .post else {
      let session = SessionCookie.value(inCookieHeaders: request.headers[values: .cookie])
      if let session, SessionCookie.isValid(session, signingKey: current.signingKey) { return Gate.redirect(to: "/") }
      let wrong = target.query?.split(separator: "&").contains { $0.hasPrefix("wrong_password=") } ?? false
      var response = Response(
        status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
        body: ResponseBody(
          byteBuffer: ByteBuffer(string: LoginPage.html(wrongPassword: wrong, guestMode: settings.guestMode))))
      response.headers[.init("X-Frame-Options")!] = "DENY"
      return response
    }
    // A form is small: anything over 8 KiB is not a login.
    guard let body = try? await request.body.collect(upTo: 8192) else {
      return Gate.json(.contentTooLarge, #"{"error": "The login form is too large."}"#)
    }
    let fields = LoginPage.formFields(String(buffer: body))
    if fields["guest_mode"] == "1", settings.guestMode { return Gate.redirect(to: "/") }
    let user = fields["username"].flatMap { $0.isEmpty ? nil : $0 } ?? current.credential.user
    switch await authenticator.passwordVerdict(user: user, password: fields["password"] ?? "", client: client.address) {
    case .user:
      var response = Gate.redirect(to: "/")
      let value = SessionCookie.issue(signingKey: current.signingKey, maxAge: settings.sessionMaxAge)
      response.headers[.setCookie] = SessionCookie.setCookie(
        value, maxAge: settings.sessionMaxAge, secure: client.https)
      log.info("login: \(user) logged in from \(client.address)")
      return response
    case .throttled(let seconds): return Gate.retryLater(.tooManyRequests, after: seconds, "Too many login attempts")
    case .busy: return Gate.retryLater(.serviceUnavailable, after: 1, "Busy checking passwords")
    default:
      log.info("login: wrong user name or password from \(client.address)")
      return Gate.redirect(to: "/login?wrong_password=1")
    }
  }

  /// Whether a WebSocket upgrade may go through, and the relay that serves it.
  func shouldUpgrade(_ head: HTTPRequest, channel: any Channel) async -> ShouldUpgradeResult<
    WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>
  > {
    let target = RequestTarget(head.path ?? "/")
    guard target.path.hasPrefix("/"), let current = authenticator.store.value else { return .dontUpgrade }
    let client = clientView(head.headerFields, remote: channel.remoteAddress)
    if let refusal = OriginRule.refusal(host: head.authority, origin: head.headerFields[.origin]) {
      log.warn("\(target.redacted): \(refusal)")
      return .dontUpgrade
    }
    let verdict = await authenticator.verdict(
      authorization: head.headerFields[values: .authorization], queryToken: target.token,
      cookies: head.headerFields[values: .cookie], client: client.address)
    let allowed =
      verdict == .user
      || (verdict == .anonymous && settings.guestMode && GuestPolicy.allows(method: "GET", target: target))
    guard allowed else {
      log.info("GET \(target.redacted) (WebSocket) refused: \(verdict)")
      // Answered 401 as ComfyUI-Login answers it, not HummingbirdWebSocket's 400 (ConnectionGuard).
      try? await channel.eventLoop.submit {
        try channel.pipeline.syncOperations.handler(type: ConnectionGuard.self)
          .refuseUpgrade(with: ConnectionGuard.unauthorizedUpgrade)
      }.get()
      return .dontUpgrade
    }
    let token = current.credential.hash
    return .upgrade([:]) { inbound, outbound, context in
      await relay.relay(inbound: inbound, outbound: outbound, target: target, token: token, logger: context.logger)
    }
  }

  private func clientView(_ headers: HTTPFields, remote: SocketAddress?) -> ClientView {
    settings.clientAddress.view(
      remote: remote, forwardedFor: headers[values: .init("X-Forwarded-For")!],
      forwardedProto: headers[.init("X-Forwarded-Proto")!])
  }

  // MARK: answers

  /// What ComfyUI-Login answers a request without credentials: a browser (Accept holds text/html) is
  /// sent to the login page, anything else gets 401 with its JSON body.
  static func refusal(accept: [String]) -> Response {
    if accept.contains(where: { $0.contains("text/html") }) { return redirect(to: "/login") }
    return json(.unauthorized, #"{"error": "Authentication required."}"#)
  }

  /// 429 or 503 with Retry-After: the client may try again, later.
  static func retryLater(_ status: HTTPResponse.Status, after seconds: Int, _ why: String) -> Response {
    var response = json(status, #"{"error": ""# + why + #"; wait and try again."}"#)
    response.headers[.retryAfter] = String(seconds)
    return response
  }

  static func redirect(to location: String) -> Response {
    Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
  }

  static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
    Response(
      status: status, headers: [.contentType: "application/json; charset=utf-8"],
      body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
  }

  static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
    Response(
      status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
      body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
  }
}
