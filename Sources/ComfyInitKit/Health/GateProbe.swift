// What `health` asks the gate besides /system_stats, with auth on: every request the real ComfyUI-Login
// leaves open (LoginNodeHoles) must be refused. And from the other side: ComfyUI itself must not answer
// outside loopback.
import AuthContract
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

struct GateProbe {
  let endpoint: ServerEndpoint
  let timeout: Double

  static let routes = LoginNodeHoles.requests(stem: "comfy-init-health")

  /// The first route answered without credentials, as a line for `health`; nil when all were refused.
  func firstOpenRoute() -> String? {
    for route in GateProbe.routes {
      var request = HTTPRequest(
        method: route.method, url: endpoint.base + route.path,
        headers: route.authorization.map { [("Authorization", $0)] } ?? [], body: route.method == "POST" ? [] : nil,
        timeout: timeout, connectTimeout: timeout, maxBodyBytes: ServerEndpoint.answerLimit)
      request.pinnedCertificate = endpoint.pinnedCertificate
      let shown =
        "\(route.method) \(route.path)" + (route.authorization == nil ? "" : " with a malformed Authorization")
      do {
        let response = try HTTPClient.send(request)
        let refused =
          response.status == 401
          || (response.status == 302 && (response.header("Location") ?? "").hasSuffix("/login"))
        if !refused { return "auth not enforced: \(shown) without credentials answered \(response.status), not 401" }
      } catch {
        return "auth not verified: \(shown) failed (\(error.message))"
      }
    }
    return nil
  }

  /// A line when ComfyUI's own port accepts a connection on one of this machine's addresses other
  /// than loopback (it must listen on 127.0.0.1 only, behind the gate); nil when none does.
  static func serverReachableOutsideLoopback(port: Int) -> String? {
    for address in nonLoopbackIPv4Addresses() where acceptsConnection(address, port: port) {
      return
        "exposed: ComfyUI's own port \(port) answers on \(address), outside loopback; only the gate may listen there"
    }
    return nil
  }

  static func nonLoopbackIPv4Addresses() -> [String] {
    var list: UnsafeMutablePointer<ifaddrs>? = nil
    guard getifaddrs(&list) == 0 else { return [] }
    defer { freeifaddrs(list) }
    var addresses: [String] = []
    var cursor = list
    while let entry = cursor {
      defer { cursor = entry.pointee.ifa_next }
      guard let raw = entry.pointee.ifa_addr, raw.pointee.sa_family == sa_family_t(AF_INET) else { continue }
      var address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
      var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
      guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { continue }
      let name = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !name.hasPrefix("127.") { addresses.append(name) }
    }
    return addresses
  }

  /// A TCP connect with a 300 ms limit.
  static func acceptsConnection(_ address: String, port: Int) -> Bool {
    let fd = socket(
      AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = in_port_t(UInt16(port).bigEndian)
    guard inet_pton(AF_INET, address, &target.sin_addr) == 1 else { return false }
    let started = withUnsafePointer(to: &target) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    if started == 0 { return true }
    guard errno == EINPROGRESS else { return false }
    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    guard poll(&poller, 1, 300) == 1 else { return false }
    var error: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
    return error == 0
  }
}
