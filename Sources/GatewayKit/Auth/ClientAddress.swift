// Who the client is, for the login throttle and the Secure cookie flag. X-Forwarded-For and
// X-Forwarded-Proto are believed only from the proxies the operator named (--trusted-proxy):
// anyone else could write them.
import NIOCore

#if canImport(Glibc)
  import Glibc
#endif

struct AddressRange: Sendable, Equatable {
  let bytes: [UInt8]
  let prefix: Int

  /// "10.0.0.0/8", "fd00::/8", or one address.
  init?(_ text: String) {
    let parts = text.split(separator: "/", maxSplits: 1)
    guard let first = parts.first, let bytes = AddressRange.parse(String(first)) else { return nil }
    let bits = bytes.count * 8
    if parts.count == 2 {
      guard let n = Int(parts[1]), n >= 0, n <= bits else { return nil }
      prefix = n
    } else {
      prefix = bits
    }
    self.bytes = bytes
  }

  func contains(_ address: [UInt8]) -> Bool {
    guard address.count == bytes.count else { return false }
    var left = prefix
    for i in 0..<bytes.count where left > 0 {
      let take = min(8, left)
      let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
      if (address[i] & mask) != (bytes[i] & mask) { return false }
      left -= take
    }
    return true
  }

  /// The address's bytes (4 for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address counts as IPv4).
  static func parse(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
      return withUnsafeBytes(of: &v4) { Array($0) }
    }
    var v6 = in6_addr()
    let plain = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
    guard inet_pton(AF_INET6, plain, &v6) == 1 else { return nil }
    let bytes = withUnsafeBytes(of: &v6) { Array($0) }
    if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes[12...]) }
    return bytes
  }
}

struct ClientView: Sendable {
  /// The client's address as text (the throttle's key).
  var address: String
  /// True when the client reached the gate (or the trusted proxy in front of it) over TLS.
  var https: Bool
}

struct ClientAddress: Sendable {
  let trusted: [AddressRange]
  let tls: Bool

  func view(remote: SocketAddress?, forwardedFor: [String], forwardedProto: String?) -> ClientView {
    let peer = remote?.ipAddress ?? "unknown"
    guard let bytes = AddressRange.parse(peer), trusted.contains(where: { $0.contains(bytes) }) else {
      return ClientView(address: peer, https: tls)
    }
    // Walk X-Forwarded-For from the nearest hop back, skipping our own proxies.
    let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }.reversed()
    var client = peer
    for hop in hops {
      client = hop
      guard let hopBytes = AddressRange.parse(hop), trusted.contains(where: { $0.contains(hopBytes) }) else { break }
    }
    let proto = forwardedProto?.split(separator: ",").first?.trimmingSpaces.lowercased()
    return ClientView(address: client, https: proto.map { $0 == "https" } ?? tls)
  }
}

extension Substring {
  var trimmingSpaces: String {
    String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
  }
}
