// /ws: once the upgrade is authorised, one WebSocket to ComfyUI with the gate's credential, and every
// frame relayed both ways as it comes (ComfyUI sends previews as large binary messages: frames are
// passed on, never gathered). When either side ends, the other is closed.
import HTTPTypes
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import NIOWebSocket

struct WebSocketRelay: Sendable {
  /// "ws://127.0.0.1:18188"
  let upstream: String
  let log: GateLog

  func relay(
    inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, target: RequestTarget, token: String,
    logger: Logger
  ) async {
    var headers = HTTPFields()
    headers[.authorization] = Credential.bearer(token)
    let client = WebSocketClient(
      url: upstream + target.upstream,
      configuration: .init(maxFrameSize: 1 << 26, additionalHeaders: headers, autoPing: .disabled),
      logger: logger
    ) { upstreamInbound, upstreamOutbound, _ in
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          for try await frame in inbound { try await upstreamOutbound.write(.custom(frame.relayed)) }
          try? await upstreamOutbound.close(.normalClosure, reason: nil)
        }
        group.addTask {
          for try await frame in upstreamInbound { try await outbound.write(.custom(frame.relayed)) }
          try? await outbound.close(.normalClosure, reason: nil)
        }
        try await group.next()
        group.cancelAll()
      }
    }
    do {
      try await client.run()
    } catch {
      log.warn("\(target.redacted): the WebSocket to ComfyUI ended: \(error)")
      try? await outbound.close(.unexpectedServerError, reason: "ComfyUI is not answering")
    }
  }
}

extension WebSocketDataFrame {
  /// The same frame, to be written on the other connection.
  var relayed: WebSocketFrame {
    let code: WebSocketOpcode =
      switch opcode {
      case .text: .text
      case .binary: .binary
      case .continuation: .continuation
      }
    return WebSocketFrame(fin: fin, opcode: code, data: data)
  }
}
