// Which requests carry `Authorization: Bearer`, and with which token: only HTTPS requests to a host
// of that token's service (Hugging Face: huggingface.co, HF_ENDPOINT's host and COMFYUI_TOKEN_HOSTS;
// CivitAI: civitai.com and COMFYUI_CIVITAI_ENDPOINT's host), and never a redirect to another origin:
// a signed CDN URL needs no token (CivitAI's storage answers 400 to one), and a token must not leak
// to whoever a server points at.
struct TokenPolicy {
  struct Service {
    /// "Hugging Face" or "CivitAI", for messages.
    let name: String
    let token: String?
    let hosts: [String]
    /// Which variable the token came from (the token itself is never logged).
    let source: String?
    /// How a person gives the token, for messages.
    let howToGive: String

    func covers(_ parts: URLParts) -> Bool {
      hosts.contains { parts.host == $0 || parts.host.hasSuffix("." + $0) }
    }
  }

  let services: [Service]

  /// Throws when a token is set but cannot be used and `origins` (the requests this start makes)
  /// need it: a token file need not be mounted once every model is in place.
  init(_ config: Config, origins: [URLParts]) throws(InitError) {
    func host(_ url: String) -> [String] { URLParts(url).map { [$0.host] } ?? [] }
    let candidates: [(String, HubToken, [String], String)] = [
      (
        "Hugging Face", config.hubToken, Config.defaultTokenHosts + host(config.hfEndpoint) + config.tokenHosts,
        "comfyctl secrets hf-token, or HF_TOKEN_FILE"
      ),
      (
        "CivitAI", config.civitaiToken, ["civitai.com"] + host(config.civitaiEndpoint),
        "comfyctl secrets civitai-token, or CIVITAI_TOKEN_FILE"
      ),
    ]
    var services: [Service] = []
    for (name, supplied, hosts, how) in candidates {
      var token: String? = nil
      var source: String? = nil
      switch supplied {
      case .none: break
      case .token(let value, let from):
        token = value
        source = from
      case .unusable(let message):
        let service = Service(name: name, token: nil, hosts: hosts, source: nil, howToGive: how)
        if origins.contains(where: service.covers) { throw InitError(.models, message) }
      }
      services.append(Service(name: name, token: token, hosts: hosts, source: source, howToGive: how))
    }
    self.services = services
  }

  /// The service whose hosts include `parts`'s, if any: the source's own first (a Hub mirror and a
  /// CivitAI proxy may share a host), else the first that covers it.
  func service(for parts: URLParts, source: ModelSource? = nil) -> Service? {
    let own: String?
    switch source {
    case .hub: own = "Hugging Face"
    case .civitai: own = "CivitAI"
    default: own = nil
    }
    if let own, let service = services.first(where: { $0.name == own && $0.covers(parts) }) { return service }
    return services.first { $0.covers(parts) }
  }

  /// The token for one request of a download of `source` that started at `origin`.
  func token(for url: URLParts, origin: URLParts, source: ModelSource? = nil) -> String? {
    guard url.scheme == "https", url == origin else { return nil }
    return service(for: url, source: source)?.token
  }
}
