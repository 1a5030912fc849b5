// Test support for issue 20: the stand-in Hugging Face Hub, CDN and CivitAI of
// Tests/Fixtures/standin-hub/server.py (its header lists each rule and where it comes from), started
// with the certificate of ProvisioningCertificate, its upstream described by a JSON config that this
// wrapper writes and the server re-reads on every request.
import Digest
import Foundation
import Testing

/// The stand-in Hub: one port on two addresses, the Hub and CivitAI API at `hubHost`, the CDN and
/// storage at `cdnHost` (different origins, so a token that follows a redirect shows). Stopped when
/// released.
///
///     let hub = try StandinHub()
///     try hub.addRepo("black-forest-labs/FLUX.1-dev", files: ["ae.safetensors": bytes], gated: true, tokens: ["hf_ok"])
///     try home.writeManifest([hub.hfLine("black-forest-labs/FLUX.1-dev", "ae.safetensors", dest: "vae/ae.safetensors")])
///     try home.provision(hub.environment(hfToken: "hf_ok"))
final class StandinHub: @unchecked Sendable {
  static let hubHost = "127.0.0.1"
  static let cdnHost = "127.0.0.2"

  let dir = TempDir("hub")
  let process: BackgroundProcess
  let port: Int
  /// The upstream as the server sees it; every change through `update` is written at once.
  private(set) var config = Config()
  private var serial = 0
  private let lock = NSLock()

  var root: String { dir.path + "/root" }
  /// HF_ENDPOINT for comfy-init (and huggingface_hub): https://127.0.0.1:PORT
  var hfEndpoint: String { "https://\(Self.hubHost):\(port)" }
  /// COMFYUI_CIVITAI_ENDPOINT for comfy-init: the same host, CivitAI's paths.
  var civitaiEndpoint: String { "https://\(Self.hubHost):\(port)" }
  /// The request log (ServedRequest.auth is always nil here: the stand-in logs only whether one came).
  var log: RequestLog { RequestLog(log: dir.path + "/requests.jsonl", busy: dir.path + "/busy") }

  init() throws {
    try FileManager.default.createDirectory(atPath: dir.path + "/root", withIntermediateDirectories: true)
    let portFile = dir.path + "/port"
    process = try BackgroundProcess(
      [
        "/usr/bin/python3", Paths.fixtures + "/standin-hub/server.py", "--root", dir.path + "/root", "--config",
        dir.path + "/config.json", "--cert", ProvisioningCertificate.cert, "--key", ProvisioningCertificate.key,
        "--log", dir.path + "/requests.jsonl", "--port-file", portFile, "--busy-file", dir.path + "/busy",
        "--hub-host", Self.hubHost, "--cdn-host", Self.cdnHost,
      ], environment: baseEnvironment(), log: dir.path + "/server.log")
    port = try portOfStartedServer(process, portFile: portFile)
    try write()
  }

  deinit { process.stop() }

  // MARK: the upstream

  /// What server.py reads (keys as its header lists them).
  struct Config: Codable {
    var repos: [String: Repo] = [:]
    /// Old "OWNER/NAME" to new: answered with a relative 307, as the Hub does for renamed repos.
    var renamed: [String: String] = [:]
    var civitai: [String: CivitaiVersion] = [:]
    /// The tokens of logged-in CivitAI users.
    var civitaiTokens: [String] = []
    var cdn = CDN()
    var faults = Faults()
  }

  struct Repo: Codable {
    var gated = false
    var `private` = false
    /// The tokens with access (a gated or private repo); any other token gets the 403 (gated) or 401.
    var tokens: [String] = []
    /// Branch or tag to commit.
    var revisions: [String: String] = [:]
    /// Commit to {path in the repo: file name in `root`}.
    var commits: [String: [String: String]] = [:]
    /// Paths stored in git, not LFS: served directly with their git SHA-1 as the ETag.
    var gitStored: [String] = []
  }

  struct CivitaiVersion: Codable {
    var name = "v1"
    var files: [CivitaiFile] = []
    var loginRequired = false
    var earlyAccess = false
    /// The tokens that pass early access.
    var tokens: [String] = []
  }

  struct CivitaiFile: Codable {
    var id: Int
    var name: String
    var type = "Model"
    /// The file name in `root`.
    var file: String
    var primary = true
  }

  /// The CDN's knobs (both /cdn for the Hub and /storage for CivitAI).
  struct CDN: Codable {
    /// Seconds a signed URL stays valid (the Hub's is 3600; nil: 3600 for the Hub, 86400 for CivitAI).
    var lifetime: Int? = nil
    /// A signed URL answers 403 "Request has expired" from its (N+1)th request on: expiry mid-download,
    /// deterministically.
    var expireAfterRequests: Int? = nil
    /// The status of an expired URL's answer (nil: 403, as S3; 400 is the other one a CDN may give).
    var expiredStatus: Int? = nil
    /// Bytes per second per response (as nginx's limit_rate); nil: as fast as it goes.
    var throttle: Int? = nil
    /// Ranges ignored: 200 with the whole file.
    var ignoreRange = false
    /// The next `dropCount` responses stop after this many body bytes, the connection dropped
    /// (set with `dropConnections`, which arms it again).
    var dropAfterBytes: Int? = nil
    var dropCount = 1
    var serial = 0
  }

  /// Counted faults of the resolvers (the Hub's resolve and CivitAI's API paths).
  struct Faults: Codable {
    var rateLimit: RateLimit? = nil
    var unavailable: Unavailable? = nil
  }

  struct RateLimit: Codable {
    var count: Int
    /// `RateLimit: "api";r=0;t=T`
    var t: Int?
    /// `Retry-After: S`
    var retryAfter: Int?
    var serial = 0
  }

  struct Unavailable: Codable {
    var count: Int
    var retryAfter: Int?
    var serial = 0
  }

  /// Changes the upstream; the server sees it at its next request.
  func update(_ change: (inout Config) -> Void) throws {
    lock.lock()
    defer { lock.unlock() }
    change(&config)
    try write()
  }

  /// A number no earlier knob had: a counted knob written with it fires its full count again.
  private func nextSerial() -> Int {
    lock.lock()
    defer { lock.unlock() }
    serial += 1
    return serial
  }

  private func write() throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let path = dir.path + "/config.json"
    try encoder.encode(config).write(to: URL(fileURLWithPath: path + ".tmp"))
    // rename: the server never reads half a file.
    guard rename(path + ".tmp", path) == 0 else { throw CocoaError(.fileWriteUnknown) }
  }

  /// Writes `bytes` into the served folder as `name` (a new name for new content is best: a file
  /// changed in place gets a new SHA-256, and its earlier CDN URLs answer 404).
  func put(_ name: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
  }

  /// A repo whose `branch` points at a new commit holding `files` (path in the repo: content); returns
  /// the commit. `repo` may be "datasets/OWNER/NAME".
  @discardableResult
  func addRepo(
    _ repo: String, files: [String: [UInt8]], gated: Bool = false, private isPrivate: Bool = false,
    tokens: [String] = [], branch: String = "main"
  ) throws -> String {
    try update {
      var r = $0.repos[repo] ?? Repo()
      r.gated = gated
      r.private = isPrivate
      r.tokens = tokens
      $0.repos[repo] = r
    }
    return try commit(repo, files: files, branch: branch)
  }

  /// A new commit on `repo`: the files of the commit `branch` points at now, with `files` added or
  /// replaced; `branch` then points at it (the Hub's `main` moving on). Returns the commit (40 hex).
  @discardableResult
  func commit(_ repo: String, files: [String: [UInt8]], branch: String = "main") throws -> String {
    let previous = config.repos[repo]?.revisions[branch].flatMap { config.repos[repo]?.commits[$0] } ?? [:]
    let seed =
      "\(repo)\n\(branch)\n\(nextSerial())\n" + files.keys.sorted().map { "\($0)=\(sha256Hex(files[$0]!))" }.joined()
    let commit = String(sha256Hex(Array(seed.utf8)).prefix(40))
    var tree = previous
    for (path, bytes) in files {
      let served = commit.prefix(12) + "-" + path.replacingOccurrences(of: "/", with: "_")
      try put(served, bytes)
      tree[path] = served
    }
    try update {
      $0.repos[repo, default: Repo()].commits[commit] = tree
      $0.repos[repo, default: Repo()].revisions[branch] = commit
    }
    return commit
  }

  /// A CivitAI model version whose one (primary) file is `bytes`, named `name`.
  func addCivitaiVersion(
    _ id: Int, name: String, bytes: [UInt8], loginRequired: Bool = false, earlyAccess: Bool = false,
    tokens: [String] = []
  ) throws {
    let served = "civitai-\(id)-" + name
    try put(served, bytes)
    try update {
      $0.civitai[String(id)] = CivitaiVersion(
        files: [CivitaiFile(id: id * 10, name: name, file: served)], loginRequired: loginRequired,
        earlyAccess: earlyAccess, tokens: tokens)
    }
  }

  // MARK: knobs

  /// The next `count` resolver requests answer 429 with `RateLimit: "api";r=0;t=T` and/or `Retry-After`.
  func rateLimit(next count: Int, t: Int? = nil, retryAfter: Int? = nil) throws {
    let serial = nextSerial()
    try update { $0.faults.rateLimit = RateLimit(count: count, t: t, retryAfter: retryAfter, serial: serial) }
  }

  /// The next `count` resolver requests answer 503 (with Retry-After when given).
  func unavailable(next count: Int, retryAfter: Int? = nil) throws {
    let serial = nextSerial()
    try update { $0.faults.unavailable = Unavailable(count: count, retryAfter: retryAfter, serial: serial) }
  }

  /// The CDN's knobs, e.g. `try hub.cdn { $0.throttle = 1 << 20; $0.expireAfterRequests = 2 }`.
  func cdn(_ change: (inout CDN) -> Void) throws { try update { change(&$0.cdn) } }

  /// The next `count` CDN responses send `bytes` body bytes, then drop the connection (no TLS close).
  func dropConnections(afterBytes bytes: Int, count: Int = 1) throws {
    let serial = nextSerial()
    try cdn {
      $0.dropAfterBytes = bytes
      $0.dropCount = count
      $0.serial = serial
    }
  }

  // MARK: what tests give comfy-init or curl

  /// `hf://REPO[@REV]/PATH` (the manifest's source).
  func hfSource(_ repo: String, _ path: String, revision: String? = nil) -> String {
    "hf://" + repo + (revision.map { "@" + $0 } ?? "") + "/" + path
  }

  /// A manifest line `hf://REPO[@REV]/PATH DEST [SHA256]`.
  func hfLine(_ repo: String, _ path: String, dest: String, revision: String? = nil, sha256: String? = nil) -> String {
    hfSource(repo, path, revision: revision) + " " + dest + (sha256.map { " " + $0 } ?? "")
  }

  /// A manifest line `civitai://ID DEST [SHA256]`.
  func civitaiLine(_ id: Int, dest: String, sha256: String? = nil) -> String {
    "civitai://\(id) " + dest + (sha256.map { " " + $0 } ?? "")
  }

  /// {HF_ENDPOINT}/{REPO}/resolve/{REV}/{PATH}: what huggingface_hub asks.
  func resolveURL(_ repo: String, _ path: String, revision: String = "main") -> String {
    "\(hfEndpoint)/\(repo)/resolve/\(revision)/\(path)"
  }

  /// The endpoints for comfy-init, the certificate trusted, and the tokens given (as the variables
  /// a deployment sets; nil leaves one out).
  func environment(hfToken: String? = nil, civitaiToken: String? = nil) -> [String: String] {
    var env = [
      "HF_ENDPOINT": hfEndpoint, "COMFYUI_CIVITAI_ENDPOINT": civitaiEndpoint,
      "SSL_CERT_FILE": ProvisioningCertificate.cert, "CURL_CA_BUNDLE": ProvisioningCertificate.cert,
    ]
    if let hfToken { env["HF_TOKEN"] = hfToken }
    if let civitaiToken { env["CIVITAI_TOKEN"] = civitaiToken }
    return env
  }

  /// Every request so far, in the order they started (see RequestLog.requests).
  func requests(atLeast count: Int = 0) -> [ServedRequest] { log.requests(atLeast: count) }

  /// The requests that reached the CDN host (the Hub's /cdn and CivitAI's /storage).
  func cdnRequests(atLeast count: Int = 0) -> [ServedRequest] {
    requests(atLeast: count).filter { $0.address == Self.cdnHost }
  }
}
