// Which requests carry `Authorization: Bearer`: only HTTPS requests to a host that needs it
// (huggingface.co and its subdomains, plus COMFYUI_TOKEN_HOSTS), and never a redirect to another
// origin: a signed CDN URL needs no token, and a token must not leak to whoever a server points at.
struct TokenPolicy {
  let token: String?
  let hosts: [String]
  /// Which variable the token came from, for messages (the token itself is never logged).
  let source: String?

  static let defaultHosts = ["huggingface.co"]

  /// HF_TOKEN, then HF_TOKEN_FILE, then HF_API_TOKEN: the first one set wins.
  static func load(_ env: [String: String]) throws(InitError) -> TokenPolicy {
    var extra: [String] = []
    for host in (env["COMFYUI_TOKEN_HOSTS"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
      var name = Substring(host.lowercased())
      while name.hasPrefix(".") { name = name.dropFirst() }
      if !name.isEmpty { extra.append(String(name)) }
    }
    var token: String? = nil
    var source: String? = nil
    for name in ["HF_TOKEN", "HF_TOKEN_FILE", "HF_API_TOKEN"] {
      guard let value = env[name], !value.isEmpty else { continue }
      if name.hasSuffix("_FILE") {
        guard let text = FileSystem.readText(value) else {
          throw InitError(.models, "\(name)=\(value) cannot be read; mount the token file there or fix the path")
        }
        token = text.trimmingWhitespace()
      } else {
        token = value.trimmingWhitespace()
      }
      source = name
      break
    }
    if let value = token, value.isEmpty || value.contains(where: { $0.isNewline || $0 == "\0" }) {
      throw InitError(.models, "\(source!) must hold one token on one line; fix its value")
    }
    return TokenPolicy(token: token, hosts: defaultHosts + extra, source: source)
  }

  func needsToken(_ parts: URLParts) -> Bool {
    hosts.contains { parts.host == $0 || parts.host.hasSuffix("." + $0) }
  }

  /// The token for one request of a download that started at `origin`.
  func token(for url: URLParts, origin: URLParts) -> String? {
    guard let token, url.scheme == "https", url == origin, needsToken(url) else { return nil }
    return token
  }
}
