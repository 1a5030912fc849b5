// Which requests carry `Authorization: Bearer`: only HTTPS requests to a host that needs it
// (huggingface.co and its subdomains, plus COMFYUI_TOKEN_HOSTS), and never a redirect to another
// origin: a signed CDN URL needs no token, and a token must not leak to whoever a server points at.
struct TokenPolicy {
  let token: String?
  let hosts: [String]
  /// Which variable the token came from, for messages (the token itself is never logged).
  let source: String?

  /// The token Config read (HF_TOKEN, HF_TOKEN_FILE, HF_API_TOKEN: the first one set wins), for
  /// huggingface.co and COMFYUI_TOKEN_HOSTS. Throws when it is set but cannot be used.
  init(_ config: Config) throws(InitError) {
    switch config.hubToken {
    case .none:
      token = nil
      source = nil
    case .token(let value, let name):
      token = value
      source = name
    case .unusable(let message):
      throw InitError(.models, message)
    }
    hosts = Config.defaultTokenHosts + config.tokenHosts
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
