// `comfyctl validate`: the whole auth matrix against a running server, through the same libcurl
// module as comfy-init. Each row says what it expected and what it saw; every row must pass. Its
// first rows (AuthProbe.checkAnonymousAccess) are also `up`'s gate before it calls the stack healthy.
import Foundation
import HTTPClient

public struct ValidationRow: Codable, Sendable, Equatable {
  public var name: String
  public var expected: String
  public var observed: String
  public var passed: Bool
}

public struct AuthValidator {
  public let probe: AuthProbe
  public let credential: Credential
  /// COMFYUI_BEARER_TOKEN and COMFYUI_API_TOKEN as .env has them (nil: missing).
  public let envTokens: [String: String?]
  var baseURL: String { probe.baseURL }
  /// true: the stack was started with a GPU, and a /system_stats that reports only the CPU fails.
  /// nil: not known (any device passes).
  public var expectGPU: Bool? = nil
  /// `comfy-init health`'s CUDA line from the container ("cuda error: the driver supports ..."), shown
  /// in the device row: comfy-init owns that verdict.
  public var cudaVerdict: String? = nil

  public init(baseURL: String, credential: Credential, envTokens: [String: String?]) {
    self.probe = AuthProbe(baseURL: baseURL)
    self.credential = credential
    self.envTokens = envTokens
  }

  public func run() throws(CtlError) -> [ValidationRow] {
    // Reachability first: a stopped server is one clear error, not nine failed rows.
    do {
      _ = try ComfyAPI.exchange(HTTPRequest(url: baseURL + "/login", timeout: probe.timeout, connectTimeout: 5))
    } catch {
      throw CtlError(
        .serverUnreachable, "no ComfyUI answers at \(baseURL) (\(error.message)); start it with `comfyctl up`")
    }
    var rows = probe.checkAnonymousAccess()
    let stats = baseURL + "/system_stats"
    let bearer = probe.get(stats, headers: [ComfyAPI.bearer(credential.hash)])
    rows.append(probe.expect("Authorization: Bearer <hash>", bearer, status: 200))
    rows.append(
      probe.expect("?token=<hash>", probe.get(stats + "?token=" + percentEncode(credential.hash)), status: 200))
    rows.append(
      probe.expect(
        "raw password as bearer token (must be refused)",
        probe.get(stats, headers: [ComfyAPI.bearer(credential.password)]), status: 401))
    rows.append(contentsOf: loginRows())
    rows.append(envTokenRow(stats))
    rows.append(devicesRow(bearer))
    rows.append(generateRow())
    return rows
  }

  /// The last row: the server does its job. The built-in workflow (core nodes, no model file) goes
  /// through POST /prompt and /ws with the token, and its PNG is downloaded and checked.
  private func generateRow() -> ValidationRow {
    let name = "generates an image"
    let workflow = BuiltinWorkflow.random()
    let expected = workflow.expected
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("comfyctl-validate-\(UUID())").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let generator = Generator(api: ComfyAPI(baseURL: baseURL, token: credential.hash), timeout: 120, console: nil)
    do {
      let result = try generator.run(workflow.prompt, outputDir: folder)
      guard let file = result.files.first else {
        return ValidationRow(name: name, expected: expected, observed: "no image saved", passed: false)
      }
      let bytes = Array(FileManager.default.contents(atPath: file) ?? Data())
      if let problem = workflow.problem(with: bytes) {
        return ValidationRow(name: name, expected: expected, observed: problem, passed: false)
      }
      return ValidationRow(
        name: name, expected: expected, observed: "as expected, in \(Console.seconds(result.seconds))", passed: true)
    } catch {
      return ValidationRow(name: name, expected: expected, observed: error.message, passed: false)
    }
  }

  // MARK: rows

  private func loginRows() -> [ValidationRow] {
    var rows: [ValidationRow] = []
    let good = probe.post(baseURL + "/login", form: ["username": credential.username, "password": credential.password])
    let loginRow = probe.expect("POST /login, right password", good, status: 302, location: "/")
    let cookie = good.response.map(AuthProbe.cookieHeader) ?? ""
    rows.append(cookie.isEmpty && loginRow.passed ? failed(loginRow, "no session cookie") : loginRow)
    let queue = probe.get(baseURL + "/queue", headers: cookie.isEmpty ? [] : [("Cookie", cookie)])
    rows.append(probe.expect("its session cookie opens /queue", queue, status: 200))
    let wrong = SecretsStore.randomPassword(length: 20)
    let bad = probe.post(baseURL + "/login", form: ["username": credential.username, "password": wrong])
    rows.append(probe.expect("POST /login, wrong password", bad, status: 302, location: "/login?wrong_password=1"))
    // ComfyUI-Login's guest button (with login/GUEST_MODE present) opened every GET, /internal/logs and
    // its token included: through the gate a guest form opens nothing unless COMFYUI_GUEST_MODE=1.
    let guest = probe.post(baseURL + "/login", form: ["guest_mode": "1", "password": ""])
    let guestCookie = guest.response.map(AuthProbe.cookieHeader) ?? ""
    let guestLogs = probe.get(baseURL + "/internal/logs", headers: guestCookie.isEmpty ? [] : [("Cookie", guestCookie)])
    rows.append(probe.expect("a guest login, then GET /internal/logs", guestLogs, status: 401))
    return rows
  }

  private func envTokenRow(_ stats: String) -> ValidationRow {
    let name = "the token in .env is the server's"
    let expected = "COMFYUI_BEARER_TOKEN = COMFYUI_API_TOKEN, answered 200"
    let bearerToken = envTokens["COMFYUI_BEARER_TOKEN"] ?? nil
    let apiToken = envTokens["COMFYUI_API_TOKEN"] ?? nil
    guard let bearerToken, let apiToken else {
      let missing = bearerToken == nil ? "COMFYUI_BEARER_TOKEN" : "COMFYUI_API_TOKEN"
      return ValidationRow(name: name, expected: expected, observed: "\(missing) missing from .env", passed: false)
    }
    guard bearerToken == apiToken else {
      return ValidationRow(name: name, expected: expected, observed: "the two keys differ", passed: false)
    }
    let result = probe.get(stats, headers: [ComfyAPI.bearer(bearerToken)])
    let observed = result.response.map { "\($0.status)" } ?? result.error
    return ValidationRow(name: name, expected: expected, observed: observed, passed: result.response?.status == 200)
  }

  private func devicesRow(_ stats: AuthProbe.Outcome) -> ValidationRow {
    let name = "/system_stats reports a device"
    guard let response = stats.response, response.status == 200 else {
      return ValidationRow(name: name, expected: ">= 1 device", observed: "no 200 answer", passed: false)
    }
    let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
    let devices = json?["devices"] as? [[String: Any]] ?? []
    let names = devices.compactMap { $0["name"] as? String }.joined(separator: ", ")
    var observed = devices.isEmpty ? "0 devices" : "\(devices.count) (\(names))"
    guard expectGPU == true else {
      return ValidationRow(name: name, expected: ">= 1 device", observed: observed, passed: !devices.isEmpty)
    }
    // ComfyUI's device type: "cuda" for an NVIDIA GPU, "cpu" when it fell back to the CPU.
    let types = devices.map { $0["type"] as? String ?? "?" }
    observed += " of type " + (types.isEmpty ? "none" : types.joined(separator: ", "))
    if let cudaVerdict { observed += "; " + cudaVerdict }
    return ValidationRow(
      name: name, expected: ">= 1 GPU device (the stack was started with a GPU)", observed: observed,
      passed: types.contains { $0 != "cpu" })
  }

  private func failed(_ row: ValidationRow, _ why: String) -> ValidationRow {
    var copy = row
    copy.observed += ", \(why)"
    copy.passed = false
    return copy
  }
}
