// Test support for provisioning: a local HTTPS file server (Tests/Fixtures/https-server) with a
// self-signed certificate made by the `openssl` CLI, and `comfy-init provision` runs against it.
import Digest
import Foundation
import Testing

/// A self-signed certificate for 127.0.0.1, 127.0.0.2 and localhost, made once per test process.
enum ProvisioningCertificate {
  static let dir = TempDir("cert")
  static let cert: String = {
    let cert = dir.path + "/cert.pem"
    let result = try! runProcess(
      [
        "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", dir.path + "/key.pem", "-out", cert, "-days", "2", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost",
      ], environment: baseEnvironment(), timeout: 30)
    precondition(result.status == 0, "openssl req failed: \(result.stderr)")
    return cert
  }()
  static var key: String { dir.path + "/key.pem" }
}

/// One request as a test server logged it (the file server or the stand-in Hub).
struct ServedRequest {
  var address: String
  var method: String
  var path: String
  /// The stand-in Hub's route: hf, cdn, storage, civitai-api, civitai-download or other ("" from the file server).
  var kind: String
  var range: String?
  /// The Authorization header as sent: the file server logs it; the stand-in Hub never does (nil there).
  var auth: String?
  /// Whether an Authorization header came at all (both servers).
  var authorized: Bool
  /// Whether a `?token=` came (the stand-in Hub; its log never holds the query).
  var queryToken: Bool
  var status: Int
  var bytes: Int
  var start: Double
  var end: Double
  var dropped: Bool
}

/// The JSON request log and busy file that both test servers write (one line per request, logged when it
/// ends; the busy file counts connections accepted and not yet logged).
struct RequestLog {
  var log: String
  var busy: String

  /// The logged requests in the order they started, read once the server has no connection left
  /// (it logs a request when it ends, which may be a moment after the client saw its last byte) and
  /// at least `atLeast` are logged (for a client that still runs).
  func requests(atLeast count: Int = 0, _ include: (ServedRequest) -> Bool = { _ in true }) -> [ServedRequest] {
    let done = pollUntil(10) { isIdle && logged.filter(include).count >= count }
    if !done { Issue.record("the server still has connections, or fewer than \(count) requests were logged") }
    return logged.filter(include).sorted { $0.start < $1.start }
  }

  /// No connection accepted and not yet logged.
  private var isIdle: Bool { (try? String(contentsOfFile: busy, encoding: .utf8)) == "0" }

  private var logged: [ServedRequest] {
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap { line in
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
      let auth = object["auth"] as? String
      return ServedRequest(
        address: object["address"] as? String ?? "", method: object["method"] as? String ?? "GET",
        path: object["path"] as? String ?? "", kind: object["kind"] as? String ?? "", range: object["range"] as? String,
        auth: auth, authorized: object["authorization"] as? Bool ?? (auth != nil),
        queryToken: object["queryToken"] as? Bool ?? false, status: object["status"] as? Int ?? 0,
        bytes: object["bytes"] as? Int ?? 0, start: object["start"] as? Double ?? 0, end: object["end"] as? Double ?? 0,
        dropped: object["dropped"] as? Bool ?? false)
    }
  }
}

/// The port a test server wrote to `portFile` once it listens (it picks a free one itself); throws with
/// its log when it does not come up within 15 s.
func portOfStartedServer(_ process: BackgroundProcess, portFile: String) throws -> Int {
  var found: Int? = nil
  let deadline = Date().addingTimeInterval(15)
  while found == nil && Date() < deadline && process.isRunning {
    found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
    if found == nil { usleep(20_000) }
  }
  guard let found else { throw ServerDidNotStart(log: process.log) }
  return found
}

struct ServerDidNotStart: Error { var log: String }

/// The HTTPS file server, serving `files` under /files/NAME; stopped when released.
final class ModelServer: @unchecked Sendable {
  let dir = TempDir("srv")
  let process: BackgroundProcess
  let port: Int
  static let token = "test-token"

  init(files: [String: [UInt8]]) throws {
    let root = dir.path + "/files"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name)) }
    let portFile = dir.path + "/port"
    process = try BackgroundProcess(
      [
        "/usr/bin/python3", Paths.fixtures + "/https-server/server.py", "--root", root,
        "--cert", ProvisioningCertificate.cert, "--key", ProvisioningCertificate.key, "--log",
        dir.path + "/requests.jsonl",
        "--port-file", portFile, "--busy-file", dir.path + "/busy", "--token", ModelServer.token,
      ], environment: baseEnvironment(), log: dir.path + "/server.log")
    port = try portOfStartedServer(process, portFile: portFile)
  }

  deinit { process.stop() }

  /// https://HOST:PORT/files/NAME?QUERY
  func url(_ name: String, host: String = "127.0.0.1", query: String = "") -> String {
    "https://\(host):\(port)/files/\(name)" + (query.isEmpty ? "" : "?" + query)
  }

  func redirect(to target: String, query: String = "") -> String {
    let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? target
    return "https://127.0.0.1:\(port)/redirect?to=\(encoded)" + (query.isEmpty ? "" : "&" + query)
  }

  /// The GETs: what moved bytes (comfy-init's HEADs ask a plain URL for its size first).
  func requests(atLeast count: Int = 0) -> [ServedRequest] {
    allRequests(atLeast: count) { $0.method == "GET" }
  }

  /// Every request, HEADs too (where a token went matters for all of them).
  func allRequests(atLeast count: Int = 0, _ include: @escaping (ServedRequest) -> Bool = { _ in true })
    -> [ServedRequest]
  {
    RequestLog(log: dir.path + "/requests.jsonl", busy: dir.path + "/busy").requests(atLeast: count, include)
  }
}

/// A COMFYUI_HOME with a manifest for `comfy-init provision`.
final class ProvisionHome: @unchecked Sendable {
  let dir = TempDir("prov")
  var home: String { dir.path + "/home" }
  var models: String { home + "/ComfyUI/models" }
  var manifest: String { dir.path + "/manifest.txt" }

  init() throws { try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true) }

  /// A home whose models folder is `store` (a link, as one volume mounted into several containers).
  init(sharing store: String) throws {
    try FileManager.default.createDirectory(atPath: home + "/ComfyUI", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: models, withDestinationPath: store)
  }

  /// `comfy-init provision` left running, its log in the home's folder.
  func provisionInBackground(_ extra: [String: String] = [:], name: String = "run") throws -> BackgroundProcess {
    try BackgroundProcess(
      [Paths.comfyInit, "provision"], environment: environment(extra), log: dir.path + "/\(name).log")
  }

  /// models/.comfy-init/models.lock, as written.
  var lockFile: String { (try? String(contentsOfFile: models + "/.comfy-init/models.lock", encoding: .utf8)) ?? "" }

  func inode(_ dest: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: models + "/" + dest))?[.systemFileNumber] as? NSNumber)?
      .intValue ?? -1
  }

  func writeManifest(_ lines: [String]) throws {
    try (lines.joined(separator: "\n") + "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
  }

  func environment(_ extra: [String: String] = [:]) -> [String: String] {
    var env = baseEnvironment()
    env["COMFYUI_HOME"] = home
    env["COMFYUI_MODELS_MANIFEST"] = manifest
    env["SSL_CERT_FILE"] = ProvisioningCertificate.cert
    for (key, value) in extra { env[key] = value }
    return env
  }

  @discardableResult
  func provision(_ extra: [String: String] = [:], timeout: TimeInterval = 60) throws -> ProcessResult {
    try runProcess([Paths.comfyInit, "provision"], environment: environment(extra), timeout: timeout)
  }

  func contents(_ dest: String) -> [UInt8]? {
    FileManager.default.contents(atPath: models + "/" + dest).map { [UInt8]($0) }
  }

  func exists(_ dest: String) -> Bool { FileManager.default.fileExists(atPath: models + "/" + dest) }

  func size(_ dest: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: models + "/" + dest))?[.size] as? NSNumber)?.intValue ?? -1
  }
}

/// Deterministic pseudo-random bytes (a fixed LCG seed per name), quick to make in megabytes.
func modelBytes(_ count: Int, seed: UInt64) -> [UInt8] {
  var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
  var bytes = [UInt8](repeating: 0, count: count)
  for i in 0..<count {
    if i % 8 == 0 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    bytes[i] = UInt8(truncatingIfNeeded: state >> UInt64(8 * (i % 8)))
  }
  return bytes
}

func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(bytes)) }
