// What a client without a credential may hold: NIO's HTTP parser waits for a request as long as the
// socket stays open, and HummingbirdWebSocket arms its idle timeout only once a first request has been
// parsed. So every connection passes this guard first (after TLS, so it sees plain bytes):
//   - at most `perClient` connections from one address and `total` in all; more are closed at once;
//   - the first request's head must be complete (its blank line seen) within `headerDeadline`;
//   - an HTTP connection with no byte in either direction for `idleTimeout` is closed (a WebSocket,
//     once upgraded, lives as long as its ends want).
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

struct ConnectionLimits: Sendable {
  var perClient: Int
  var total: Int
  var headerDeadline: TimeAmount = .seconds(20)
  var idleTimeout: TimeAmount = .seconds(300)
  let counts = ConnectionCounts()

  /// Room for the client's descriptor and its upstream one, and a margin for the gate's own files.
  static func forThisProcess() -> ConnectionLimits {
    let total = max(64, (Limits.openFiles - 64) / 2)
    return ConnectionLimits(perClient: min(256, total), total: total)
  }
}

final class ConnectionCounts: Sendable {
  private let state = Mutex<(total: Int, perClient: [String: Int])>((0, [:]))

  /// Counts a new connection from `client`; false (and nothing counted) when a limit is reached.
  func admit(_ client: String, limits: ConnectionLimits) -> Bool {
    state.withLock { state in
      let mine = state.perClient[client, default: 0]
      guard state.total < limits.total, mine < limits.perClient else { return false }
      state.total += 1
      state.perClient[client] = mine + 1
      return true
    }
  }

  func release(_ client: String) {
    state.withLock { state in
      state.total -= 1
      let left = state.perClient[client, default: 1] - 1
      state.perClient[client] = left > 0 ? left : nil
    }
  }
}

final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let limits: ConnectionLimits
  private var client: String? = nil
  private var headComplete = false
  /// The last bytes read while the first head was incomplete: its blank line may span two reads.
  private var tail: [UInt8] = []
  private var answered = false
  private var upgraded = false
  private var opened = NIODeadline.now()
  private var lastActivity = NIODeadline.now()
  private var check: RepeatedTask? = nil
  /// What to answer instead of HummingbirdWebSocket's 400 when the gate refused an upgrade for want of a
  /// credential (it has no way to answer otherwise): ComfyUI-Login's 401, which clients act on.
  private var upgradeRefusal: ByteBuffer? = nil

  /// The answer that replaces a refused upgrade's; call on the channel's event loop.
  func refuseUpgrade(with answer: ByteBuffer) { upgradeRefusal = answer }

  static let unauthorizedUpgrade = ByteBuffer(
    string: "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n"
      + "Content-Length: 37\r\n\r\n{\"error\": \"Authentication required.\"}")

  init(limits: ConnectionLimits) {
    self.limits = limits
  }

  func channelActive(context: ChannelHandlerContext) {
    let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
    guard limits.counts.admit(address, limits: limits) else {
      context.close(promise: nil)
      return
    }
    client = address
    opened = .now()
    lastActivity = opened
    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
    check = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
      let (handler, context) = loopBound.value
      handler.closeIfOverdue(context: context)
    }
    context.fireChannelActive()
  }

  func channelInactive(context: ChannelHandlerContext) {
    check?.cancel()
    check = nil
    if let client { limits.counts.release(client) }
    client = nil
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    lastActivity = .now()
    if !headComplete {
      let buffer = unwrapInboundIn(data)
      let bytes = tail + buffer.readableBytesView
      headComplete = ConnectionGuard.containsBlankLine(bytes)
      tail = Array(bytes.suffix(3))
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    lastActivity = .now()
    if !answered {
      // Only a first request can be upgraded: its answer says whether this is a WebSocket now.
      answered = true
      if let upgradeRefusal {
        context.write(wrapOutboundOut(upgradeRefusal), promise: promise)
        return
      }
      upgraded = unwrapOutboundIn(data).readableBytesView.starts(with: Array("HTTP/1.1 101".utf8))
    }
    context.write(data, promise: promise)
  }

  /// True when `bytes` hold CR LF CR LF, the end of a request head.
  static func containsBlankLine(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 4 else { return false }
    for i in 0...(bytes.count - 4)
    where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
      return true
    }
    return false
  }

  private func closeIfOverdue(context: ChannelHandlerContext) {
    let now = NIODeadline.now()
    if !headComplete && now - opened > limits.headerDeadline || !upgraded && now - lastActivity > limits.idleTimeout {
      check?.cancel()
      check = nil
      context.close(promise: nil)
    }
  }
}

/// A server child channel with the guard in front of the base channel's handlers.
struct GuardedChannel<Base: ServerChildChannel>: ServerChildChannel {
  typealias Value = Base.Value
  let base: Base
  let limits: ConnectionLimits

  func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
    channel.eventLoop.makeCompletedFuture {
      try channel.pipeline.syncOperations.addHandler(ConnectionGuard(limits: limits))
    }.flatMap {
      base.setup(channel: channel, logger: logger)
    }
  }

  func handle(value: Base.Value, logger: Logger) async {
    await base.handle(value: value, logger: logger)
  }
}
