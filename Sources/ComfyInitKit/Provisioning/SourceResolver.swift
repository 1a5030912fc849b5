// Turns a manifest line's source into what the download needs: the URL to fetch (the token's own
// host, which answers with a redirect to a signed CDN URL), the commit a Hub revision resolved to,
// the size, and the SHA-256 the source claims. For hf://, a HEAD on /resolve as huggingface_hub's
// get_hf_file_metadata makes it (X-Repo-Commit, X-Linked-Etag, X-Linked-Size; only relative
// redirects followed, a renamed repository); for civitai://, the model version's JSON; for a plain
// URL, a HEAD for the size (optional). Refusals become sentences a person can act on; 429 and 503
// wait as Retry-After or the Hub's RateLimit header say, a bounded number of times.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

struct Resolution {
  /// Where the download starts (with the token, if its host is the token's).
  var origin: String
  var commit: String? = nil
  var size: Int64? = nil
  /// The SHA-256 the source claims (lower-case), when it gives one.
  var sha256: String? = nil
  /// An estimate only (CivitAI's sizeKB): good for the disk check, not for the file's check.
  var sizeIsEstimate = false
}

struct SourceResolver {
  let config: Config
  let tokens: TokenPolicy
  let checkStop: (Int32) throws -> Void

  static let maxAttempts = 5
  static let maxWait = 300.0

  /// `commit`: the lock's commit for a Hub revision, asked for instead of the branch.
  func resolve(_ entry: ModelEntry, commit: String?) throws -> Resolution {
    switch entry.source {
    case .url(let url): return try resolvePlain(url)
    case .hub(let file): return try resolveHub(file, commit: commit)
    case .civitai(let id): return try resolveCivitai(id)
    }
  }

  // MARK: the three kinds

  private func resolveHub(_ file: ModelSource.HubFile, commit: String?) throws -> Resolution {
    var url = file.resolveURL(endpoint: config.hfEndpoint, revision: commit)
    let origin = URLParts(url)
    for _ in 0..<5 {
      let response = try send(
        "HEAD", url, origin: origin, source: .hub(file), headers: [("Accept-Encoding", "identity")])
      if (300...399).contains(response.status), let location = response.header("location"), location.hasPrefix("/"),
        let renamed = SourceResolver.absolute(location, from: url)
      {
        // A renamed repository: the Hub answers with a path on itself, which huggingface_hub follows.
        url = renamed
        continue
      }
      guard (200...399).contains(response.status) else {
        throw InitError(.models, explainHub(response, file: file, revision: commit ?? file.revision))
      }
      var resolution = Resolution(origin: url)
      resolution.commit = response.header("x-repo-commit").flatMap { ModelLock.isCommit($0) ? $0 : nil }
      if let resolved = resolution.commit, commit == nil, let swapped = swapRevision(url, to: resolved) {
        resolution.origin = swapped
      }
      let etag = (response.header("x-linked-etag") ?? response.header("etag")).map(SourceResolver.bareETag)
      resolution.sha256 = etag.flatMap { ModelLock.isSHA256($0) ? $0 : nil }
      resolution.size = (response.header("x-linked-size") ?? response.header("content-length"))
        .flatMap { Int($0) }.map(Int64.init)
      return resolution
    }
    throw InitError(.models, "\(file.repo): too many redirects resolving \(file.path)")
  }

  private func resolveCivitai(_ id: String) throws -> Resolution {
    let url = config.civitaiEndpoint + "/api/v1/model-versions/" + id
    let response = try send(
      "GET", url, origin: URLParts(url), source: .civitai(versionID: id), headers: [("Accept", "application/json")])
    guard response.status == 200 else {
      if response.status == 404 {
        throw InitError(.models, "CivitAI has no model version \(id) (deleted or not published); fix civitai://\(id)")
      }
      throw InitError(.models, explainCivitai(response, id: id))
    }
    guard let json = JSON.parse(response.body), let files = json["files"]?.array, !files.isEmpty else {
      throw InitError(.models, "CivitAI's answer for model version \(id) is not the JSON it documents; try again later")
    }
    let file = files.first { $0["primary"]?.bool == true } ?? files[0]
    guard let download = file["downloadUrl"]?.string, URLParts(download) != nil else {
      throw InitError(.models, "CivitAI gives no download URL for model version \(id)")
    }
    var resolution = Resolution(origin: download)
    resolution.sha256 = file["hashes"]?["SHA256"]?.string?.lowercased()
    if let sha = resolution.sha256, !ModelLock.isSHA256(sha) { resolution.sha256 = nil }
    resolution.size = file["sizeKB"]?.number.map { Int64($0 * 1024) }
    resolution.sizeIsEstimate = true
    return resolution
  }

  /// A HEAD for the size, best effort: a server that refuses HEAD still serves the GET.
  private func resolvePlain(_ url: String) throws -> Resolution {
    var resolution = Resolution(origin: url)
    var hop = url
    let origin = URLParts(url)
    for _ in 0..<Downloader.maxRedirects {
      guard let response = try? send("HEAD", hop, origin: origin, headers: [("Accept-Encoding", "identity")]) else {
        return resolution
      }
      if (300...399).contains(response.status), let next = response.header("location") {
        guard let target = SourceResolver.absolute(next, from: hop) else { return resolution }
        hop = target
        continue
      }
      if response.status == 200 {
        resolution.size = response.header("content-length").flatMap { Int($0) }.map(Int64.init)
      }
      return resolution
    }
    return resolution
  }

  // MARK: requests

  /// One request, retried on 429, 503 and network errors as the server asks.
  private func send(
    _ method: String, _ url: String, origin: URLParts?, source: ModelSource? = nil, headers: [(String, String)]
  ) throws -> HTTPResponse {
    var request = HTTPRequest(method: method, url: url, timeout: 60, connectTimeout: 30, maxBodyBytes: 4 << 20)
    request.headers = headers.map { (name: $0.0, value: $0.1) }
    if let parts = URLParts(url), let origin, let token = tokens.token(for: parts, origin: origin, source: source) {
      request.headers.append((name: "Authorization", value: "Bearer " + token))
    }
    var attempt = 0
    while true {
      attempt += 1
      let response: HTTPResponse
      do { response = try HTTPClient.send(request) } catch {
        let reason = SourceResolver.reason(error, url: url)
        guard error.isTransient, attempt < SourceResolver.maxAttempts else {
          throw InitError(.models, "\(URLParts.loggable(url)): \(reason); check the network and the endpoint")
        }
        try wait(SourceResolver.backoff(attempt), because: reason, url: url)
        continue
      }
      guard [408, 429, 500, 502, 503, 504].contains(response.status), attempt < SourceResolver.maxAttempts else {
        return response
      }
      let delay = SourceResolver.serverDelay(response) ?? SourceResolver.backoff(attempt)
      try wait(delay, because: "HTTP \(response.status)", url: url)
    }
  }

  private func wait(_ seconds: Double, because reason: String, url: String) throws {
    let bounded = min(seconds, SourceResolver.maxWait)
    Log.warn("models: \(reason) from \(URLParts.loggable(url)); asking again in \(formatDuration(bounded))")
    try checkStop(Int32(bounded * 1000))
  }

  /// libcurl's reason without the URL HTTPClient appends: a signed URL's query, or a manifest URL's, is
  /// not for the log.
  static func reason(_ error: HTTPError, url: String) -> String {
    error.message.hasSuffix(" (\(url))") ? String(error.message.dropLast(url.count + 3)) : error.message
  }

  /// 1, 2, 4, 8 s: huggingface_hub's own backoff.
  static func backoff(_ attempt: Int) -> Double { Double(min(8, 1 << (attempt - 1))) }

  /// What a 429 or 503 asks for: the Hub's `RateLimit: "api";r=0;t=55` (reset in t s: wait t+1), or
  /// Retry-After in seconds.
  static func serverDelay(_ response: HTTPResponse) -> Double? {
    serverDelay(rateLimit: response.header("ratelimit"), retryAfter: response.header("retry-after"))
  }

  static func serverDelay(rateLimit: String?, retryAfter: String?) -> Double? {
    if let limit = rateLimit {
      for part in limit.split(separator: ";") {
        let item = String(part).trimmingWhitespace()
        if item.hasPrefix("t="), let t = Int(item.dropFirst(2)), t >= 0 { return Double(t + 1) }
      }
    }
    if let after = retryAfter?.trimmingWhitespace(), let seconds = Int(after), seconds >= 0 {
      return Double(seconds)
    }
    return nil
  }

  // MARK: what refusals mean

  private func explainHub(_ response: HTTPResponse, file: ModelSource.HubFile, revision: String) -> String {
    let page = file.page(endpoint: config.hfEndpoint)
    let service = URLParts(config.hfEndpoint).flatMap { tokens.service(for: $0, source: .hub(file)) }
    let tokenName = service?.source ?? "HF_TOKEN_FILE"
    let hasToken = service?.token != nil
    let code = response.header("x-error-code") ?? ""
    switch (response.status, code) {
    case (401, "GatedRepo") where !hasToken, (403, "GatedRepo") where !hasToken:
      return
        "\(file.name) is gated: accept its licence at \(page), then give the token (comfyctl secrets hf-token, or HF_TOKEN_FILE)"
    case (403, _) where hasToken, (401, "GatedRepo"):
      return "your token (\(tokenName)) has no access to \(file.repo): ask for access at \(page)"
    case (401, _):
      return hasToken
        ? "\(file.repo) does not exist at \(config.hfEndpoint), or your token (\(tokenName)) cannot read it; check the name"
        : "\(file.repo) does not exist at \(config.hfEndpoint), or it is private: check the name, or give a token (comfyctl secrets hf-token)"
    case (404, "RevisionNotFound"):
      return "\(file.repo) has no revision '\(revision)'; fix the @REVISION"
    case (404, _):
      return "\(file.repo) has no file \(file.path) at '\(revision)'; fix the PATH"
    default:
      return
        "HTTP \(response.status) from \(URLParts.loggable(response.effectiveURL))\(SourceResolver.snippet(response)) for \(file.repo)"
    }
  }

  private func explainCivitai(_ response: HTTPResponse, id: String) -> String {
    SourceResolver.explainCivitai(
      status: response.status, text: response.text, id: id,
      hasToken: URLParts(config.civitaiEndpoint).flatMap { tokens.service(for: $0, source: .civitai(versionID: id)) }?
        .token != nil)
  }

  /// CivitAI's refusals, from the API or from its download endpoint (the Downloader asks too).
  static func explainCivitai(status: Int, text: String, id: String, hasToken: Bool) -> String {
    let said = messageIn(text).map { " (CivitAI says: \($0))" } ?? ""
    switch status {
    case 401:
      return hasToken
        ? "CivitAI refused the token for model version \(id)\(said); check the token (comfyctl secrets civitai-token)"
        : "CivitAI model version \(id) requires you to be logged in\(said): give a token (comfyctl secrets civitai-token)"
    case 403:
      return
        "your CivitAI account has no access to model version \(id)\(said) (early access?); buy or wait for access at civitai.com"
    case 404, 410:
      return "CivitAI has no model version \(id) (deleted, archived or unpublished); fix civitai://\(id)"
    default:
      return "HTTP \(status) from CivitAI for model version \(id)\(said)"
    }
  }

  /// The `message` or `error` of a JSON refusal, on one line.
  static func messageIn(_ text: String) -> String? {
    guard let json = JSON.parse(Array(text.utf8)) else { return nil }
    return (json["message"]?.string ?? json["error"]?.string).map { String($0.prefix(200)) }
  }

  private static func snippet(_ response: HTTPResponse) -> String {
    if let message = response.header("x-error-message") { return " (\(message.prefix(200)))" }
    if let message = messageIn(response.text) { return " (\(message))" }
    return ""
  }

  // MARK: URLs

  /// `"abc"`, `W/"abc"` → abc.
  static func bareETag(_ value: String) -> String {
    var text = Substring(value.trimmingWhitespace())
    if text.hasPrefix("W/") { text = text.dropFirst(2) }
    return String(text.filter { $0 != "\"" }).lowercased()
  }

  /// The resolve URL with its revision replaced by the commit it resolved to.
  private func swapRevision(_ url: String, to commit: String) -> String? {
    guard let marker = url.rangeOfSubstring("/resolve/") else { return nil }
    let rest = url[marker.upperBound...]
    guard let slash = rest.firstIndex(of: "/") else { return nil }
    return String(url[..<marker.upperBound]) + commit + String(rest[slash...])
  }

  /// A Location resolved against the URL it came from (absolute, or a path on the same origin).
  static func absolute(_ location: String, from url: String) -> String? {
    if location.hasPrefix("https://") || location.hasPrefix("http://") { return location }
    guard location.hasPrefix("/"), !location.hasPrefix("//"), let schemeEnd = url.rangeOfSubstring("://") else {
      return nil
    }
    let rest = url[schemeEnd.upperBound...]
    let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
    return String(url[..<hostEnd]) + location
  }
}
