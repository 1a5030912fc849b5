// ComfyUI's own origin check (server.py, origin_only_middleware), applied by the gate to WebSocket
// upgrades: upstream, the relay's socket carries the loopback Host and Origin of its own URL, so
// ComfyUI cannot make this check for /ws any more. The rule, as ComfyUI has it: when Host names a
// loopback host and an Origin is sent, they must name the same host (and port, where both have one).
enum OriginRule {
  static func refusal(host: String?, origin: String?) -> String? {
    guard let host = host?.lowercased(), let origin = origin?.lowercased(), !host.isEmpty, !origin.isEmpty else {
      return nil
    }
    let originNetloc =
      origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
    guard isLoopback(hostname(of: host)) else { return nil }
    let same: Bool
    if !hasPort(originNetloc) {
      same = hostname(of: host) == originNetloc
    } else if !hasPort(host) {
      same = hostname(of: originNetloc) == host
    } else {
      same = host == originNetloc
    }
    return same ? nil : "request with non matching host and origin \(host) != \(originNetloc), refused (403)"
  }

  static func hostname(of netloc: String) -> String {
    if netloc.hasPrefix("["), let close = netloc.firstIndex(of: "]") {
      return String(netloc[netloc.index(after: netloc.startIndex)..<close])
    }
    return String(netloc.split(separator: ":", maxSplits: 1).first ?? "")
  }

  static func hasPort(_ netloc: String) -> Bool {
    if netloc.hasPrefix("[") { return netloc.contains("]:") }
    return netloc.contains(":")
  }

  static func isLoopback(_ hostname: String) -> Bool {
    if hostname == "localhost" { return true }
    guard let bytes = AddressRange.parse(hostname) else { return false }
    if bytes.count == 4 { return bytes[0] == 127 }
    return bytes == [UInt8](repeating: 0, count: 15) + [1]
  }
}
