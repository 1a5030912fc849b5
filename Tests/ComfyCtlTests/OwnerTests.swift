// Issue 19: each fact of comfyctl has one owner, and these tests fail when code goes around it. They
// read Sources/ComfyCtlKit as text (comment lines skipped): a second owner is a line someone wrote, so
// the test names the file and line to move.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct OwnerTests {
  static let sources = CtlPaths.root + "/Sources/ComfyCtlKit"

  /// Every code line of ComfyCtlKit: its path under Sources/ComfyCtlKit ("Engine/Stack.swift"), number, text.
  static func codeLines() throws -> [(file: String, number: Int, code: String)] {
    let files = try FileManager.default.subpathsOfDirectory(atPath: sources).filter { $0.hasSuffix(".swift") }.sorted()
    #expect(files.count > 30, "found only \(files.count) files under \(sources)")
    var lines: [(String, Int, String)] = []
    for file in files {
      let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
      for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let code = line.trimmingCharacters(in: .whitespaces)
        if !code.hasPrefix("//") { lines.append((file, index + 1, code)) }
      }
    }
    return lines
  }

  /// The lines outside `owners` (files or folders, "API/ComfyAPI.swift", "Engine/") that match `pattern`.
  static func offenders(_ pattern: String, outside owners: [String]) throws -> [String] {
    let regex = try Regex(pattern)
    return try codeLines().filter { line in
      !owners.contains { line.file == $0 || ($0.hasSuffix("/") && line.file.hasPrefix($0)) }
        && line.code.contains(regex)
    }.map { "\($0.file):\($0.number): \($0.code)" }
  }

  /// Which engine runs the stack is decided once (Stack.open); commands call the engine and never ask
  /// which one it is, so a new engine is a new type in Engine/, not an edit in every command.
  @Test func onlyTheEngineRoomKnowsWhichEngineRuns() throws {
    let found = try Self.offenders(
      #"\b(SwarmEngine|ComposeEngine|SwarmNode)\b|[=!]=\s*\.(swarm|compose)\b|case\s+\.(swarm|compose)\b|\bis\s+\w+Engine\b"#,
      outside: ["Engine/"])
    #expect(
      found.isEmpty, "engine branches outside Engine/ (call stack.engine instead):\n\(found.joined(separator: "\n"))")
  }

  /// ComfyAPI owns every request and credential header: one place spells `Bearer `, one calls HTTPClient.
  @Test func onlyComfyAPISpellsTheCredentialAndSendsRequests() throws {
    let bearer = try Self.offenders(#""Bearer "#, outside: ["API/ComfyAPI.swift"])
    #expect(bearer.isEmpty, "\"Bearer \" outside ComfyAPI (use ComfyAPI.bearer):\n\(bearer.joined(separator: "\n"))")
    let sends = try Self.offenders(#"HTTPClient\.send\b"#, outside: ["API/ComfyAPI.swift"])
    #expect(
      sends.isEmpty,
      "requests outside ComfyAPI (use ComfyAPI.exchange or an API call):\n\(sends.joined(separator: "\n"))")
    let header = ComfyAPI.bearer("t")
    #expect(header.name == "Authorization" && header.value == "Bearer t")
  }

  /// Durations and deadlines use the monotonic clock (Spawn's `Instant`): the wall clock jumps (NTP, a
  /// suspended laptop) and a timeout measured on it fires early or never. The wall clock is only for
  /// times shown to people (FileOps.timestamp's backup folder names).
  @Test func durationsAndDeadlinesUseTheMonotonicClock() throws {
    let wallClock = try Self.offenders(
      #"\bDate\(\)|timeIntervalSince|addingTimeInterval|\bDate\.now\b"#, outside: ["Support/FileOps.swift"])
    #expect(wallClock.isEmpty, "wall-clock durations (use Instant):\n\(wallClock.joined(separator: "\n"))")
  }

  /// Issue 20: ModelToken owns the tokens' names (files, secret keys, variables, commands), ModelsVolumes
  /// the models volumes' (the shared one, per instance, the old per-family ones).
  @Test func modelTokenAndModelsVolumesOwnTheirNames() throws {
    let tokens = try Self.offenders(
      #""(hf_token|civitai_token|HF_TOKEN_FILE|CIVITAI_TOKEN_FILE|hf-token|civitai-token)""#,
      outside: ["Secrets/ModelTokens.swift"])
    #expect(tokens.isEmpty, "a token's name outside ModelToken:\n\(tokens.joined(separator: "\n"))")
    let volumes = try Self.offenders(
      #""_models|_MODELS_VOLUME""#, outside: ["Engine/ModelsVolumes.swift", "Project/Settings.swift"])
    #expect(volumes.isEmpty, "a models volume's name outside ModelsVolumes:\n\(volumes.joined(separator: "\n"))")
  }

  /// One rule says which names hold a secret (SecretKey.isSecret): no second list of the words.
  @Test func oneRuleSaysWhichKeysAreSecret() throws {
    let lists = try Self.offenders(#""(TOKEN|PASSWORD|SECRET|HASH|KEY)""#, outside: ["Secrets/SecretKey.swift"])
    #expect(lists.isEmpty, "a second list of secret words (use SecretKey.isSecret):\n\(lists.joined(separator: "\n"))")
  }

  /// The rule covers both lists comfyctl had (EnvFile's: TOKEN, PASSWORD, SECRET, KEY, HASH, not
  /// `..._FILE`; ImageBuilder's build arguments: PASSWORD, TOKEN, SECRET, HASH, `..._FILE` too): what
  /// either treated as secret stays secret, and `..._KEY_FILE`, which neither did, is secret too.
  @Test(arguments: [
    ("COMFYUI_BEARER_TOKEN", true), ("COMFYUI_API_TOKEN", true), ("HF_TOKEN", true), ("COMFYUI_PASSWORD", true),
    ("db_password", true), ("AWS_SECRET_ACCESS_KEY", true), ("SSH_KEY", true), ("COMFYUI_PASSWORD_HASH", true),
    ("COMFYUI_PASSWORD_HASH_FILE", true), ("HF_TOKEN_FILE", true), ("TLS_KEY_FILE", true),
    ("COMFYUI_HOST_PORT", false), ("COMFYUI_IMAGE", false), ("COMFYUI_PIP_EXTRA", false), ("BASE_IMAGE", false),
    ("COMFYUI_USERNAME", false), ("COMFYUI_PROJECT_NAME", false),
  ])
  func aKeyEitherOldListTreatedAsSecretStaysSecret(key: String, secret: Bool) {
    #expect(SecretKey.isSecret(key) == secret, "\(key)")
  }

  /// compose/docker-compose.yml's services, profiles and published ports are what `Instance.all` says
  /// (comfyctl's URLs, port checks and --profile come from there), and the CPU override covers each.
  @Test func composeListsTheInstancesAndPortsThatSettingsHolds() throws {
    let compose = try String(contentsOfFile: CtlPaths.root + "/" + Project.composeFile, encoding: .utf8)
    let services = Self.services(inCompose: compose)
    #expect(services.map(\.name) == Instance.all.map(\.service))
    for instance in Instance.all {
      let service = services.first { $0.name == instance.service }
      #expect(service?.profile == instance.profile, "\(instance.service)'s profile")
      #expect(
        service?.ports == ["${COMFYUI_BIND:-127.0.0.1}:${\(instance.portVariable):-\(instance.defaultPort)}:8188"],
        "\(instance.service)'s port")
    }
    let cpu = try String(contentsOfFile: CtlPaths.root + "/" + Project.cpuComposeFile, encoding: .utf8)
    #expect(Self.services(inCompose: cpu).map(\.name) == Instance.all.map(\.service))
  }

  /// The services of a compose file as written (no YAML library: the files' own two-space layout).
  static func services(inCompose text: String) -> [(name: String, profile: String?, ports: [String])] {
    var services: [(name: String, profile: String?, ports: [String])] = []
    var inServices = false
    var inPorts = false
    for line in text.split(separator: "\n").map(String.init) where !line.hasPrefix("#") {
      let indent = line.prefix { $0 == " " }.count
      let item = line.trimmingCharacters(in: .whitespaces)
      if indent == 0 {
        inServices = item == "services:"
      } else if inServices && indent == 2 && item.hasSuffix(":") {
        services.append((String(item.dropLast()), nil, []))
      } else if inServices && indent == 4, !services.isEmpty {
        inPorts = item == "ports:"
        if item.hasPrefix("profiles: [") {
          services[services.count - 1].profile = String(item.dropFirst("profiles: [".count).dropLast())
        }
      } else if inServices && inPorts && item.hasPrefix("- "), !services.isEmpty {
        services[services.count - 1].ports.append(
          item.dropFirst(2).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
      }
    }
    return services
  }
}
