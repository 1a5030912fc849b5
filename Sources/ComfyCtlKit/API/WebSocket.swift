// A small RFC 6455 client over a plain TCP socket: what `generate` needs to follow ComfyUI's /ws
// (text and binary messages in, pings answered, the Authorization header on the upgrade). Chosen
// over FoundationNetworking's URLSessionWebSocketTask, which on Linux rides on libcurl and fails with
// "WebSockets not supported by libcurl" (this project's libcurl is built without ws), and over
// swift-nio, whose build would dominate CI and complicate a static comfyctl. Only ws:// (the stack
// serves plain HTTP on the host); wss:// is refused with a clear message.
import Foundation
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

public struct WebSocketError: Error, CustomStringConvertible, Sendable {
  public var message: String
  /// The HTTP status when the server refused the upgrade (401 without a valid token).
  public var status: Int?
  public var description: String { message }
}

public final class WebSocket {
  public enum Message: Sendable {
    case text(String)
    case binary([UInt8])
  }

  private let fd: Int32
  private var buffer: [UInt8] = []
  private var closed = false

  /// Connects to `url` (ws:// or http://) and upgrades, sending `headers` with the request.
  public init(url: String, headers: [(name: String, value: String)], timeout: Double = 10) throws(WebSocketError) {
    guard let parts = URLComponents(string: url), let host = parts.host,
      ["ws", "http"].contains(parts.scheme ?? "")
    else {
      throw WebSocketError(message: "\(url): only ws:// or http:// URLs are supported for the event stream")
    }
    let port = parts.port ?? 80
    fd = try WebSocket.connect(host: host, port: port, timeout: timeout)
    var path = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
    if let query = parts.percentEncodedQuery { path += "?" + query }
    let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
    for header in headers { request += "\(header.name): \(header.value)\r\n" }
    request += "\r\n"
    do throws(WebSocketError) {
      try write(Array(request.utf8))
      let head = try readHead(deadline: Instant.now().adding(seconds: timeout))
      let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
      guard status == 101 else {
        throw WebSocketError(
          message: "the server answered \(status.map(String.init) ?? "garbage") instead of switching to WebSocket",
          status: status)
      }
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  deinit { close() }

  public func close() {
    guard !closed else { return }
    closed = true
    try? sendFrame(opcode: 0x8, payload: [0x03, 0xE8])  // 1000: normal closure
    Glibc.close(fd)
  }

  /// The next text or binary message; nil when none came before `deadline`. Throws when the
  /// connection ends.
  public func receive(until deadline: Instant) throws(WebSocketError) -> Message? {
    var fragments: [UInt8] = []
    var fragmentOpcode: UInt8 = 0
    while true {
      guard let (fin, opcode, payload) = try readFrame(deadline: deadline) else { return nil }
      switch opcode {
      case 0x9: try sendFrame(opcode: 0xA, payload: payload)  // ping -> pong
      case 0xA: continue
      case 0x8: throw WebSocketError(message: "the server closed the event stream")
      case 0x0, 0x1, 0x2:
        if opcode != 0 { fragmentOpcode = opcode }
        fragments += payload
        guard fin else { continue }
        return fragmentOpcode == 0x1 ? .text(String(decoding: fragments, as: UTF8.self)) : .binary(fragments)
      default: throw WebSocketError(message: "unknown WebSocket opcode \(opcode)")
      }
    }
  }

  // MARK: frames

  private func readFrame(deadline: Instant) throws(WebSocketError) -> (Bool, UInt8, [UInt8])? {
    guard let head = try readBytes(2, deadline: deadline) else { return nil }
    // Once a frame has begun, the rest comes soon: a far deadline keeps a frame from being split.
    let rest = Instant.now().adding(seconds: 30)
    var length = Int(head[1] & 0x7F)
    if length == 126 {
      guard let ext = try readBytes(2, deadline: rest) else { throw truncated }
      length = Int(ext[0]) << 8 | Int(ext[1])
    } else if length == 127 {
      guard let ext = try readBytes(8, deadline: rest) else { throw truncated }
      length = ext.reduce(0) { $0 << 8 | Int($1) }
    }
    let mask = head[1] & 0x80 != 0 ? try readBytes(4, deadline: rest) : nil
    guard var payload = try readBytes(length, deadline: rest) else { throw truncated }
    if let mask { for index in payload.indices { payload[index] ^= mask[index % 4] } }
    return (head[0] & 0x80 != 0, head[0] & 0x0F, payload)
  }

  private var truncated: WebSocketError { WebSocketError(message: "the event stream ended inside a frame") }

  /// Client frames are masked (RFC 6455 5.3).
  private func sendFrame(opcode: UInt8, payload: [UInt8]) throws(WebSocketError) {
    var frame: [UInt8] = [0x80 | opcode]
    if payload.count < 126 {
      frame.append(0x80 | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
      frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
      frame.append(0x80 | 127)
      frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
    }
    let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
    frame += mask
    frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    try write(frame)
  }

  // MARK: socket

  private static func connect(host: String, port: Int, timeout: Double) throws(WebSocketError) -> Int32 {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &list) == 0, let list else {
      throw WebSocketError(message: "cannot resolve \(host)")
    }
    defer { freeaddrinfo(list) }
    var last = "no address"
    var entry: UnsafeMutablePointer<addrinfo>? = list
    while let info = entry {
      entry = info.pointee.ai_next
      let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
      guard fd >= 0 else { continue }
      var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
      if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
      last = String(cString: strerror(errno))
      Glibc.close(fd)
    }
    throw WebSocketError(message: "cannot connect to \(host):\(port): \(last)")
  }

  private func write(_ bytes: [UInt8]) throws(WebSocketError) {
    var sent = 0
    while sent < bytes.count {
      let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else {
        throw WebSocketError(message: "the event stream broke: \(String(cString: strerror(errno)))")
      }
      sent += count
    }
  }

  /// Fills the buffer until it holds `count` bytes; false when `deadline` passed first.
  private func fill(_ count: Int, deadline: Instant) throws(WebSocketError) -> Bool {
    while buffer.count < count {
      let wait = deadline.millisecondsFromNow
      guard wait > 0 else { return false }
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, min(wait, 1001))
      if ready < 0 && errno == EINTR { continue }
      guard ready > 0 else { continue }
      var chunk = [UInt8](repeating: 0, count: 65536)
      let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if got < 0 && errno == EINTR { continue }
      guard got > 0 else { throw WebSocketError(message: "the server closed the event stream") }
      buffer += chunk[..<got]
    }
    return true
  }

  private func readBytes(_ count: Int, deadline: Instant) throws(WebSocketError) -> [UInt8]? {
    guard try fill(count, deadline: deadline) else { return nil }
    let bytes = Array(buffer[..<count])
    buffer.removeFirst(count)
    return bytes
  }

  /// The status line of the upgrade answer; its headers are skipped, what follows stays buffered.
  private func readHead(deadline: Instant) throws(WebSocketError) -> String {
    let end: [UInt8] = Array("\r\n\r\n".utf8)
    while true {
      if let range = buffer.firstRange(of: end) {
        let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
        buffer.removeFirst(range.upperBound)
        return head.components(separatedBy: "\r\n").first ?? ""
      }
      guard try fill(buffer.count + 1, deadline: deadline) else {
        throw WebSocketError(message: "no WebSocket upgrade answer in time")
      }
    }
  }
}
