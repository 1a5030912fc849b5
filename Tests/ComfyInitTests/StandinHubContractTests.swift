// Issue 20: the stand-in Hub's rules (Tests/Fixtures/standin-hub/server.py), each driven with the real
// `curl` CLI, never comfy-init: the provisioning tests trust the stand-in to answer as
// ../shared/docs/model-sources.md says the Hub, its CDN and CivitAI answer, so the stand-in is checked
// on its own. Timings are asserted only within generous bounds.
import Foundation
import Testing

@Suite(.serialized) struct StandinHubContractTests {
  static let flux = "black-forest-labs/FLUX.1-dev"
  let cert = ProvisioningCertificate.cert

  // MARK: the Hub's resolve endpoint

  @Test func aGatedRepoWithoutATokenAnswers401GatedRepoWithTheMessageInHeaderAndBody() throws {
    let hub = try StandinHub()
    try hub.addRepo(Self.flux, files: ["ae.safetensors": modelBytes(1000, seed: 1)], gated: true, tokens: ["hf_ok"])
    for head in [true, false] {
      let r = try curl(hub.resolveURL(Self.flux, "ae.safetensors"), caCert: cert, head: head)
      #expect(r.status == 401, "head \(head): \(r.headers)")
      #expect(header("X-Error-Code", r.headers) == "GatedRepo")
      let message = try #require(header("X-Error-Message", r.headers))
      #expect(
        message.hasPrefix("Access to model \(Self.flux) is restricted. You must have access to it and be authenticated")
      )
      #expect(header("Location", r.headers) == nil)
      if !head { #expect(try jsonObject(r.body)["error"] as? String == message, "\(r.body)") }
    }
  }

  @Test func aGatedRepoWithATokenWithoutAccessAnswers403AskForAccessAndTheRightTokenA302() throws {
    let hub = try StandinHub()
    try hub.addRepo(Self.flux, files: ["ae.safetensors": modelBytes(1000, seed: 1)], gated: true, tokens: ["hf_ok"])
    let url = hub.resolveURL(Self.flux, "ae.safetensors")
    let refused = try curl(url, headers: ["Authorization: Bearer hf_other"], caCert: cert, head: true)
    #expect(refused.status == 403, "\(refused.headers)")
    #expect(header("X-Error-Code", refused.headers) == "GatedRepo")
    let message = header("X-Error-Message", refused.headers) ?? ""
    #expect(message.contains("you are not in the authorized list"), "\(message)")
    #expect(message.contains("Visit \(hub.hfEndpoint)/\(Self.flux) to ask for access"), "\(message)")
    let allowed = try curl(url, headers: ["Authorization: Bearer hf_ok"], caCert: cert, head: true)
    #expect(allowed.status == 302, "\(allowed.headers)")
  }

  @Test func aMissingRepoPrivateRepoRevisionOrFileAnswerTheHubsErrorCodes() throws {
    let hub = try StandinHub()
    try hub.addRepo("me/public", files: ["a.bin": modelBytes(100, seed: 2)])
    try hub.addRepo("me/private", files: ["a.bin": modelBytes(100, seed: 2)], private: true, tokens: ["hf_me"])
    let cases: [(String, [String], Int, String)] = [
      (hub.resolveURL("me/nothing", "a.bin"), [], 401, "RepoNotFound"),
      (hub.resolveURL("me/private", "a.bin"), [], 401, "RepoNotFound"),
      (hub.resolveURL("me/private", "a.bin"), ["Authorization: Bearer hf_other"], 401, "RepoNotFound"),
      (hub.resolveURL("me/public", "a.bin", revision: "no-such-branch"), [], 404, "RevisionNotFound"),
      (hub.resolveURL("me/public", "b.bin"), [], 404, "EntryNotFound"),
    ]
    for (url, headers, status, code) in cases {
      let r = try curl(url, headers: headers, caCert: cert)
      #expect(r.status == status && header("X-Error-Code", r.headers) == code, "\(url) \(headers): \(r.headers)")
      #expect(try jsonObject(r.body)["error"] is String, "\(url): \(r.body)")
    }
    let mine = try curl(hub.resolveURL("me/private", "a.bin"), headers: ["Authorization: Bearer hf_me"], caCert: cert)
    #expect(mine.status == 302, "\(mine.headers)")
  }

  @Test func resolveAnswers302ToTheCDNWithTheCommitTheContentsSHA256AndSize() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(300_000, seed: 3)
    let commit = try hub.addRepo(Self.flux, files: ["flux1-dev.safetensors": bytes])
    let r = try curl(hub.resolveURL(Self.flux, "flux1-dev.safetensors"), caCert: cert, head: true)
    #expect(r.status == 302, "\(r.headers)")
    #expect(header("X-Repo-Commit", r.headers) == commit)
    #expect(header("X-Linked-Etag", r.headers) == "\"\(sha256Hex(bytes))\"")
    #expect(header("X-Linked-Size", r.headers) == String(bytes.count))
    #expect(header("ETag", r.headers)?.hasPrefix("\"") == true)
    #expect(header("Content-Length", r.headers) != String(bytes.count), "Content-Length describes the redirect")
    let location = try #require(header("Location", r.headers))
    #expect(location.hasPrefix("https://\(StandinHub.cdnHost):\(hub.port)/cdn/"), "\(location)")
    #expect(location.contains("X-Amz-Expires=3600"), "\(location)")
    // Followed (curl -L), the CDN gives the bytes themselves.
    let got = try download(hub.resolveURL(Self.flux, "flux1-dev.safetensors"), follow: true)
    #expect(got.status == 200 && got.bytes == bytes)
    // The Hub's `main` moves on: a new commit, new content; the old commit still resolves to the old.
    let newer = modelBytes(300_000, seed: 4)
    let next = try hub.commit(Self.flux, files: ["flux1-dev.safetensors": newer])
    let moved = try curl(hub.resolveURL(Self.flux, "flux1-dev.safetensors"), caCert: cert, head: true)
    #expect(next != commit && header("X-Repo-Commit", moved.headers) == next)
    #expect(header("X-Linked-Etag", moved.headers) == "\"\(sha256Hex(newer))\"")
    let pinned = try curl(
      hub.resolveURL(Self.flux, "flux1-dev.safetensors", revision: commit), caCert: cert, head: true)
    #expect(header("X-Repo-Commit", pinned.headers) == commit)
    #expect(header("X-Linked-Etag", pinned.headers) == "\"\(sha256Hex(bytes))\"")
    // The old signed URL is content-addressed: it still serves the old content it named.
    #expect(try download(location).bytes == bytes)
  }

  @Test func aGitStoredFileAnswers200WithItsGitSHA1AndADatasetResolvesToo() throws {
    let hub = try StandinHub()
    let readme = Array("# a model\n".utf8)
    try hub.addRepo("me/model", files: ["README.md": readme])
    try hub.update { $0.repos["me/model"]?.gitStored = ["README.md"] }
    let r = try curl(hub.resolveURL("me/model", "README.md"), caCert: cert)
    #expect(r.status == 200 && r.body == "# a model\n", "\(r.headers)")
    // git's blob id: SHA-1 of "blob SIZE\0" and the content.
    #expect(gitBlobSHA1Matches(r.headers, readme), "\(r.headers)")
    #expect(header("X-Linked-Etag", r.headers) == nil)
    try hub.addRepo("datasets/me/data", files: ["d.bin": modelBytes(10, seed: 5)])
    let data = try curl(hub.resolveURL("datasets/me/data", "d.bin"), caCert: cert, head: true)
    #expect(data.status == 302, "\(data.headers)")
  }

  @Test func aRenamedRepoAnswersARelativeRedirectToItsNewName() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(5000, seed: 6)
    try hub.addRepo("new-owner/model", files: ["m.safetensors": bytes])
    try hub.update { $0.renamed["old-owner/model"] = "new-owner/model" }
    let r = try curl(hub.resolveURL("old-owner/model", "m.safetensors"), caCert: cert, head: true)
    #expect(r.status == 307, "\(r.headers)")
    #expect(header("Location", r.headers) == "/new-owner/model/resolve/main/m.safetensors")
    #expect(try download(hub.resolveURL("old-owner/model", "m.safetensors"), follow: true).bytes == bytes)
  }

  // MARK: the CDN

  @Test func theCDNServesRangesAnswers416PastTheEndAndSendsNoETag() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(100_000, seed: 7)
    try hub.addRepo("me/m", files: ["m.bin": bytes])
    let url = try cdnURL(hub, "me/m", "m.bin")
    let part = try download(url, headers: ["Range: bytes=1000-1999"])
    #expect(part.status == 206)
    #expect(header("Content-Range", part.headers) == "bytes 1000-1999/100000")
    #expect(part.bytes == Array(bytes[1000..<2000]))
    #expect(header("ETag", part.headers) == nil, "the CDN sends no ETag on the body")
    let tail = try download(url, headers: ["Range: bytes=99990-"])
    #expect(tail.status == 206 && tail.bytes == Array(bytes[99990...]))
    let past = try download(url, headers: ["Range: bytes=100000-"])
    #expect(past.status == 416 && header("Content-Range", past.headers) == "bytes */100000")
    try hub.cdn { $0.ignoreRange = true }
    let whole = try download(url, headers: ["Range: bytes=1000-1999"])
    #expect(whole.status == 200 && whole.bytes == bytes, "ignoreRange: 200 with the whole file")
    // The CDN host answers only CDN paths, the Hub host only the Hub's.
    #expect(try download(url.replacingOccurrences(of: StandinHub.cdnHost, with: StandinHub.hubHost)).status == 404)
  }

  @Test func aSignedURLExpiresAfterItsRequestsOrItsLifetimeAndAChangedSignatureIsRefused() throws {
    let hub = try StandinHub()
    try hub.addRepo("me/m", files: ["m.bin": modelBytes(10_000, seed: 8)])
    try hub.cdn { $0.expireAfterRequests = 2 }
    let url = try cdnURL(hub, "me/m", "m.bin")
    #expect(try download(url, headers: ["Range: bytes=0-99"]).status == 206)
    #expect(try download(url, headers: ["Range: bytes=100-199"]).status == 206)
    let expired = try download(url, headers: ["Range: bytes=200-299"])
    #expect(expired.status == 403, "the third request with one signature")
    let text = String(decoding: expired.bytes, as: UTF8.self)
    #expect(text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"), "\(text)")
    // A fresh resolve signs a fresh URL.
    #expect(try download(try cdnURL(hub, "me/m", "m.bin")).status == 200)
    try hub.cdn { $0.expiredStatus = 400 }
    #expect(try download(url).status == 400, "expiredStatus")
    try hub.cdn { $0.expiredStatus = nil }
    try hub.cdn {
      $0.expireAfterRequests = nil
      $0.lifetime = 2
    }
    let short = try cdnURL(hub, "me/m", "m.bin")
    #expect(short.contains("X-Amz-Expires=2&"), "\(short)")
    #expect(try download(short).status == 200)
    // Good for 2 to 3 s (whole seconds, as X-Amz-Date): 3.2 s later it has expired.
    Thread.sleep(forTimeInterval: 3.2)
    #expect(try download(short).status == 403, "past its lifetime")
    let forged = try cdnURL(hub, "me/m", "m.bin").replacingOccurrences(
      of: "X-Amz-Expires=2&", with: "X-Amz-Expires=99&")
    let refused = try download(forged)
    #expect(refused.status == 403 && String(decoding: refused.bytes, as: UTF8.self).contains("SignatureDoesNotMatch"))
  }

  @Test func anAuthorizationHeaderAtTheCDNAnswers400AndTheLogSaysWhichRequestsCarriedOne() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(4000, seed: 9)
    try hub.addRepo(Self.flux, files: ["ae.safetensors": bytes], gated: true, tokens: ["hf_ok"])
    let url = try cdnURL(hub, Self.flux, "ae.safetensors", token: "hf_ok")
    let forwarded = try download(url, headers: ["Authorization: Bearer hf_ok"])
    #expect(forwarded.status == 400)
    #expect(String(decoding: forwarded.bytes, as: UTF8.self).contains("Missing x-amz-content-sha256"))
    #expect(try download(url).status == 200)
    // curl -L drops the header on a redirect to another host (as huggingface_hub does): the CDN sees none.
    let followed = try download(
      hub.resolveURL(Self.flux, "ae.safetensors"), headers: ["Authorization: Bearer hf_ok"], follow: true)
    #expect(followed.status == 200 && followed.bytes == bytes)
    let cdn = hub.cdnRequests(atLeast: 5)
    #expect(cdn.map(\.authorized) == [true, false, false], "\(cdn)")
    #expect(cdn.map(\.status) == [400, 200, 200])
    let resolves = hub.requests().filter { $0.kind == "hf" }
    #expect(resolves.count == 2 && resolves.allSatisfy { $0.authorized && $0.address == StandinHub.hubHost })
    #expect(resolves.allSatisfy { $0.auth == nil }, "the stand-in never logs a token's value")
  }

  @Test func theCDNThrottlesEachResponseRoughlyToItsRate() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(1 << 20, seed: 10)
    try hub.addRepo("me/m", files: ["m.bin": bytes])
    let url = try cdnURL(hub, "me/m", "m.bin")
    let fast = try download(url)
    try hub.cdn { $0.throttle = 512 << 10 }
    let slow = try download(url)
    #expect(slow.bytes == bytes)
    // 1 MiB at 512 KiB/s: about 2 s; generous bounds, the machine may be busy.
    #expect(slow.seconds > 1.5 && slow.seconds < 15, "throttled: \(slow.seconds) s, unthrottled \(fast.seconds) s")
    // Per response, not shared: two halves at once take about as long as one half alone (1 s), not 2 s.
    let dir = TempDir("halves")
    let started = Date()
    let halves = try ["0-524287", "524288-"].enumerated().map { i, range in
      try BackgroundProcess(
        ["/usr/bin/curl", "-s", "--cacert", cert, "-o", dir.path + "/\(i)", "-r", range, "--max-time", "30", url],
        environment: baseEnvironment(), log: dir.path + "/\(i).log")
    }
    let ends = halves.map { $0.wait(timeout: 40) }
    let both = Date().timeIntervalSince(started)
    #expect(ends.allSatisfy { $0?.status == 0 && $0?.signaled == false })
    let joined = (0..<2).flatMap { FileManager.default.contents(atPath: dir.path + "/\($0)").map { [UInt8]($0) } ?? [] }
    #expect(joined == bytes)
    #expect(both > 0.7 && both < 12, "two throttled halves in parallel: \(both) s")
    #expect(both < slow.seconds - 0.3, "per connection: in parallel \(both) s, one connection \(slow.seconds) s")
  }

  @Test func theCDNDropsTheNextConnectionsAfterSomeBytes() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(200_000, seed: 11)
    try hub.addRepo("me/m", files: ["m.bin": bytes])
    let url = try cdnURL(hub, "me/m", "m.bin")
    try hub.dropConnections(afterBytes: 50_000)
    let cut = try download(url)
    #expect(cut.exit != 0 && cut.bytes.count == 50_000, "curl exit \(cut.exit), \(cut.bytes.count) bytes")
    #expect(try download(url).bytes == bytes, "only the next one is dropped")
    let logged = hub.cdnRequests(atLeast: 2)
    #expect(logged.map(\.dropped) == [true, false])
  }

  // MARK: CivitAI

  @Test func civitaiListsUpperCaseSHA256AndRedirects307ToSignedStorage() throws {
    let hub = try StandinHub()
    let bytes = modelBytes(20_000, seed: 12)
    try hub.addCivitaiVersion(4321, name: "lora.safetensors", bytes: bytes)
    let r = try curl(hub.civitaiEndpoint + "/api/v1/model-versions/4321", caCert: cert)
    #expect(r.status == 200)
    let version = try jsonObject(r.body)
    #expect(version["id"] as? Int == 4321)
    let file = try #require((version["files"] as? [[String: Any]])?.first)
    let hashes = try #require(file["hashes"] as? [String: Any])
    #expect(hashes["SHA256"] as? String == sha256Hex(bytes).uppercased())
    #expect(file["name"] as? String == "lora.safetensors" && file["primary"] as? Bool == true)
    #expect(abs((file["sizeKB"] as? Double ?? 0) - Double(bytes.count) / 1024) < 0.01)
    let downloadURL = try #require(file["downloadUrl"] as? String)
    #expect(downloadURL == hub.civitaiEndpoint + "/api/download/models/4321")
    let redirect = try curl(downloadURL, caCert: cert)
    #expect(redirect.status == 307)
    let location = try #require(header("Location", redirect.headers))
    #expect(location.hasPrefix("https://\(StandinHub.cdnHost):\(hub.port)/storage/"), "\(location)")
    #expect(try download(location).bytes == bytes)
    let forwarded = try download(location, headers: ["Authorization: Bearer civ"])
    #expect(forwarded.status == 400)
    #expect(String(decoding: forwarded.bytes, as: UTF8.self).contains("Missing x-amz-content-sha256"))
    #expect(try curl(hub.civitaiEndpoint + "/api/v1/model-versions/999", caCert: cert).status == 404)
  }

  @Test func civitaiAsksForALoginAndRefusesEarlyAccessWithItsJSON() throws {
    let hub = try StandinHub()
    try hub.addCivitaiVersion(1, name: "a.safetensors", bytes: modelBytes(100, seed: 13), loginRequired: true)
    try hub.addCivitaiVersion(
      2, name: "b.safetensors", bytes: modelBytes(100, seed: 14), earlyAccess: true,
      tokens: ["civ_patron"])
    try hub.update { $0.civitaiTokens = ["civ_user", "civ_patron"] }
    let download1 = hub.civitaiEndpoint + "/api/download/models/1"
    let anonymous = try curl(download1, caCert: cert)
    #expect(anonymous.status == 401)
    let body = try jsonObject(anonymous.body)
    #expect(body["error"] as? String == "Unauthorized")
    #expect(body["message"] as? String == "The creator of this asset requires you to be logged in to download it")
    #expect(try curl(download1, headers: ["Authorization: Bearer civ_user"], caCert: cert).status == 307)
    #expect(try curl(download1 + "?token=civ_user", caCert: cert).status == 307)
    #expect(try curl(download1 + "?token=wrong", caCert: cert).status == 401)
    let download2 = hub.civitaiEndpoint + "/api/download/models/2"
    #expect(try curl(download2, headers: ["Authorization: Bearer civ_user"], caCert: cert).status == 403)
    #expect(try curl(download2, headers: ["Authorization: Bearer civ_patron"], caCert: cert).status == 307)
    let logged = hub.requests(atLeast: 6)
    #expect(logged.filter(\.queryToken).count == 2)
    #expect(logged.allSatisfy { !$0.path.contains("token") }, "the log never holds the query")
  }

  // MARK: rate limits and outages

  @Test func theNextResolverRequestsAnswer429WithRateLimitOrRetryAfterThen503() throws {
    let hub = try StandinHub()
    try hub.addRepo("me/m", files: ["m.bin": modelBytes(100, seed: 15)])
    let url = hub.resolveURL("me/m", "m.bin")
    try hub.rateLimit(next: 2, t: 55, retryAfter: 3)
    for _ in 0..<2 {
      let r = try curl(url, caCert: cert, head: true)
      #expect(r.status == 429)
      #expect(header("RateLimit", r.headers) == "\"api\";r=0;t=55")
      #expect(header("Retry-After", r.headers) == "3")
    }
    #expect(try curl(url, caCert: cert, head: true).status == 302, "only the next 2")
    try hub.rateLimit(next: 1, retryAfter: 1)
    let civitai = try curl(hub.civitaiEndpoint + "/api/v1/model-versions/1", caCert: cert)
    #expect(civitai.status == 429 && header("RateLimit", civitai.headers) == nil, "CivitAI's API is a resolver too")
    try hub.unavailable(next: 1, retryAfter: 2)
    let down = try curl(url, caCert: cert, head: true)
    #expect(down.status == 503 && header("Retry-After", down.headers) == "2")
    #expect(try curl(url, caCert: cert, head: true).status == 302)
  }

  // MARK: helpers

  /// A fresh signed CDN URL for a file (a HEAD on resolve).
  private func cdnURL(_ hub: StandinHub, _ repo: String, _ path: String, token: String? = nil) throws -> String {
    let r = try curl(
      hub.resolveURL(repo, path), headers: token.map { ["Authorization: Bearer " + $0] } ?? [], caCert: cert, head: true
    )
    return try #require(header("Location", r.headers), "\(r.headers)")
  }

  struct Download {
    var status: Int
    var exit: Int32
    var headers: String
    var bytes: [UInt8]
    var seconds: Double
  }

  /// GET with the curl CLI into a file (binary-safe), the response headers of the last hop kept.
  private func download(_ url: String, headers: [String] = [], follow: Bool = false) throws -> Download {
    let dir = TempDir("dl")
    var args = ["/usr/bin/curl", "-s", "--cacert", cert, "-o", dir.path + "/body", "-D", dir.path + "/headers"]
    args += ["-w", "%{http_code} %{time_total}", "--max-time", "30"]
    if follow { args.append("-L") }
    for h in headers { args += ["-H", h] }
    args.append(url)
    let r = try runProcess(args, environment: baseEnvironment(), timeout: 40)
    let parts = r.stdout.split(separator: " ")
    let all = (try? String(contentsOfFile: dir.path + "/headers", encoding: .utf8)) ?? ""
    // -D writes every hop's headers; the last block is the answer that counts.
    let last = all.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }.last ?? ""
    return Download(
      status: parts.first.flatMap { Int($0) } ?? 0, exit: r.status, headers: last,
      bytes: FileManager.default.contents(atPath: dir.path + "/body").map { [UInt8]($0) } ?? [],
      seconds: parts.count > 1 ? Double(parts[1]) ?? 0 : 0)
  }

  private func gitBlobSHA1Matches(_ headers: String, _ content: [UInt8]) -> Bool {
    let r = try? runProcess(
      ["/usr/bin/git", "hash-object", "--stdin"], environment: baseEnvironment(),
      stdin: String(decoding: content, as: UTF8.self))
    return header("ETag", headers) == "\"" + (r?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") + "\""
  }
}

/// The value of the last `name:` header line (case-insensitive), trimmed; nil when absent.
func header(_ name: String, _ headers: String) -> String? {
  let prefix = name.lowercased() + ":"
  // .newlines: "\r\n" is one Character in Swift, so splitting at "\n" would not split a header block.
  return headers.components(separatedBy: .newlines).last { $0.lowercased().hasPrefix(prefix) }.map {
    String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

func jsonObject(_ text: String) throws -> [String: Any] {
  try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
}
