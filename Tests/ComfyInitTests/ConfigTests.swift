// Config is the only reader of the environment, and its table of variables is the one list that
// flags, --help and README follow.
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct ConfigTests {
  /// A value for each variable that differs from its default, and what else must be set for it to
  /// count (COMFYUI_INIT=exec needs auth off). Adding a variable to the table without a sample here
  /// fails `everyVariableIsParsedAndHasItsFlag`.
  static func samples(files: TempDir) throws -> [String: (value: String, base: [String: String])] {
    let hash = "$2b$12$" + String(repeating: "a", count: 53)
    try "a password\n".write(toFile: files.path + "/password", atomically: true, encoding: .utf8)
    try (hash + "\n").write(toFile: files.path + "/hash", atomically: true, encoding: .utf8)
    try "hf_from_a_file\n".write(toFile: files.path + "/hf", atomically: true, encoding: .utf8)
    try "civ_from_a_file\n".write(toFile: files.path + "/civitai", atomically: true, encoding: .utf8)
    let url = "https://example.com/simple"
    return [
      "COMFYUI_HOME": ("/srv/comfy", [:]), "COMFYUI_REPO": ("https://example.com/ComfyUI.git", [:]),
      "COMFYUI_REF": ("v0.9.0", [:]), "COMFYUI_VENV": ("/srv/venv", [:]), "COMFYUI_STATE_DIR": ("/run/comfy-init", [:]),
      "COMFYUI_PIP_EXTRA": ("rich", [:]),
      "COMFYUI_CUSTOM_NODES": ("https://example.com/owner/Node.git@v1", [:]),
      "COMFYUI_LOGIN_REPO": ("https://example.com/fork/ComfyUI-Login.git", [:]),
      "COMFYUI_LOGIN_REF": ("abc1234", [:]), "COMFYUI_AUTH": ("none", [:]), "COMFYUI_LOGIN_ENABLED": ("false", [:]),
      "COMFYUI_USERNAME": ("alice", [:]), "COMFYUI_GUEST_MODE": ("1", [:]), "COMFYUI_PASSWORD": ("a password", [:]),
      "COMFYUI_PASSWORD_FILE": (files.path + "/password", [:]), "COMFYUI_PASSWORD_HASH": (hash, [:]),
      "COMFYUI_PASSWORD_HASH_FILE": (files.path + "/hash", [:]), "COMFYUI_LISTEN": ("127.0.0.1", [:]),
      "COMFYUI_PORT": ("9000", [:]), "COMFYUI_ARGS": ("--cpu", [:]), "COMFYUI_UPDATE": ("1", [:]),
      "COMFYUI_OFFLINE": ("1", [:]), "COMFYUI_STOP_TIMEOUT": ("3", [:]), "COMFYUI_STOP_SIGNAL": ("SIGTERM", [:]),
      "COMFYUI_INIT": ("exec", ["COMFYUI_AUTH": "none"]), "COMFYUI_INSTALLER": ("uv", [:]),
      "COMFYUI_REDACT_LOGS": ("0", [:]), "COMFYUI_MODELS_MANIFEST": ("/srv/models.txt", [:]),
      "COMFYUI_SKIP_MODELS": ("1", [:]), "COMFYUI_DOWNLOAD_CONCURRENCY": ("5", [:]),
      "COMFYUI_DOWNLOAD_CONNECTIONS": ("4", [:]), "COMFYUI_DOWNLOAD_PIECE_MB": ("64", [:]),
      "HF_ENDPOINT": ("https://hf-mirror.example.com/", [:]),
      "COMFYUI_CIVITAI_ENDPOINT": ("https://civitai.example.com", [:]), "CIVITAI_TOKEN": ("civ_x", [:]),
      "CIVITAI_TOKEN_FILE": (files.path + "/civitai", [:]),
      "COMFYUI_TOKEN_HOSTS": ("example.com", [:]), "HF_TOKEN": ("hf_x", [:]),
      "HF_TOKEN_FILE": (files.path + "/hf", [:]),
      "HF_API_TOKEN": ("hf_z", [:]), "PUID": ("1000", [:]), "PGID": ("1001", ["PUID": "1000"]),
      "PIP_INDEX_URL": (url, [:]), "PIP_EXTRA_INDEX_URL": (url, [:]), "PIP_FIND_LINKS": ("/wheels", [:]),
      "PIP_NO_INDEX": ("1", [:]), "PIP_PRE": ("1", [:]), "PIP_CONSTRAINT": ("/c.txt", [:]),
      "PIP_ONLY_BINARY": (":all:", [:]), "PIP_NO_BINARY": (":none:", [:]), "UV_INDEX_URL": (url, [:]),
      "UV_DEFAULT_INDEX": (url, [:]), "UV_EXTRA_INDEX_URL": (url, [:]), "UV_INDEX": (url, [:]),
      "UV_FIND_LINKS": ("/wheels", [:]), "UV_NO_INDEX": ("1", [:]), "UV_PRERELEASE": ("allow", [:]),
      "UV_CONSTRAINT": ("/c.txt", [:]), "COMFYUI_TORCH_INDEX_URL": (url + "/cu128", [:]),
      "COMFYUI_INTERNAL_PORT": ("19000", [:]), "COMFYUI_GATEWAY": ("/opt/gate/comfy-gateway", [:]),
      "COMFYUI_TLS_CERT": ("/tls/cert.pem", ["COMFYUI_TLS_KEY": "/tls/key.pem"]),
      "COMFYUI_TLS_KEY": ("/tls/key.pem", ["COMFYUI_TLS_CERT": "/tls/cert.pem"]),
      "CURL_CA_BUNDLE": ("/certs/ca.pem", [:]), "SSL_CERT_FILE": ("/certs/ca.pem", [:]),
      "COMFYUI_TRUSTED_PROXIES": ("10.0.0.0/8", [:]), "COMFYUI_SESSION_MAX_AGE": ("3600", [:]),
    ]
  }

  @Test func everyVariableIsParsedAndHasItsFlag() throws {
    let files = TempDir("config")
    let samples = try Self.samples(files: files)
    #expect(Set(Config.variables.map(\.name)).count == Config.variables.count, "a variable is listed twice")
    #expect(Set(Config.variables.map(\.flag)).count == Config.variables.count, "a flag is listed twice")
    #expect(Set(samples.keys) == Config.knownVariables, "samples and the table disagree")
    // Flags follow one rule: COMFYUI_STOP_TIMEOUT is --stop-timeout, PIP_INDEX_URL is --pip-index-url.
    for variable in Config.variables {
      let bare = variable.name.hasPrefix("COMFYUI_") ? String(variable.name.dropFirst(8)) : variable.name
      #expect(variable.flag == "--" + bare.lowercased().replacingOccurrences(of: "_", with: "-"), "\(variable.flag)")
    }
    for variable in Config.variables {
      let (value, base) = try #require(samples[variable.name])
      // Parsed: the value changes a typed field (what children get does not count).
      var without = try Config.load(environment: base)
      var with = try Config.load(environment: base.merging([variable.name: value]) { $1 })
      without.childEnvironment = [:]
      with.childEnvironment = [:]
      #expect(with != without, "\(variable.name) is not parsed by Config.load")
      // Its flag sets it, or refuses it as a secret.
      if variable.kind == .secret {
        #expect(throws: InitError.self) { try Config.applyFlags([variable.flag, value], to: [:]) }
        do { _ = try Config.applyFlags([variable.flag, value], to: [:]) } catch {
          #expect(error.code == .usage && error.message.contains("secret"), "\(error.message)")
        }
      } else {
        #expect(try Config.applyFlags([variable.flag + "=" + value], to: [:]) == [variable.name: value])
        if variable.kind == .switch {
          #expect(try Config.applyFlags([variable.flag], to: [:]) == [variable.name: "1"])
        } else {
          #expect(try Config.applyFlags([variable.flag, value], to: [:]) == [variable.name: value], "\(variable.flag)")
        }
      }
      // Withheld variables never reach a child.
      let loaded = try Config.load(environment: base.merging([variable.name: value]) { $1 })
      #expect((loaded.childEnvironment[variable.name] == nil) == variable.isWithheld, "\(variable.name)")
    }
  }

  @Test func helpAndReadmeListEveryVariableWithItsFlag() throws {
    let help = CLI.help
    for variable in Config.variables {
      #expect(help.contains(variable.name + " "), "--help lacks \(variable.name)")
      if variable.kind != .secret { #expect(help.contains(variable.flag + " "), "--help lacks \(variable.flag)") }
    }
    // README's table of comfy-init variables: names in the first column, flags in the second.
    let readme = try String(contentsOfFile: Paths.root + "/README.md", encoding: .utf8)
    let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let start = try #require(lines.firstIndex { $0.hasPrefix("| variable | flag |") })
    var documented: [String: [String]] = [:]
    for line in lines[(start + 2)...] {
      guard line.hasPrefix("|") else { break }
      let cells = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
      let flags = Self.backticked(cells[2])
      for name in Self.backticked(cells[1]) {
        if name.hasSuffix("[_FILE]") {
          let bare = String(name.dropLast(7))
          documented[bare] = flags
          documented[bare + "_FILE"] = flags
        } else {
          documented[name] = flags
        }
      }
    }
    #expect(Set(documented.keys) == Config.knownVariables, "README's table and Config.variables disagree")
    for variable in Config.variables where variable.kind != .secret {
      #expect(documented[variable.name]?.contains(variable.flag) == true, "README lacks \(variable.flag)")
    }
  }

  static func backticked(_ text: String) -> [String] {
    text.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }
      .map { String($0.element) }
  }

  /// The Config room is the one reader of the environment (ConfigLoader.swift captures it, once) and
  /// computes what children get; no other file of comfy-init reads a variable.
  static let environmentReader = "Config/ConfigLoader.swift"

  @Test func nothingButConfigReadsTheEnvironment() throws {
    let root = Paths.root + "/Sources/ComfyInitKit"
    let files = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
    #expect(files.contains(Self.environmentReader))
    // The detector itself.
    #expect(Self.containsWord("let p = config.childEnvironment[\"PATH\"]", "environment["))
    #expect(Self.containsWord("var pointer = environ", "environ"))
    #expect(!Self.containsWord("let environment = [String: String]()", "environ"))
    let patterns = ["environment[", "getenv(", "environ"]
    var offenders: [String] = []
    var captures = 0
    for file in files {
      let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
      for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let code = line.trimmingCharacters(in: .whitespaces)
        if code.hasPrefix("//") { continue }
        for pattern in patterns where Self.containsWord(code, pattern) {
          if file.hasPrefix("Config/") {
            // The capture of comfy-init's own `environ`; other processes' come from /proc/PID/environ.
            if pattern == "environ" && !code.contains("/environ") { captures += 1 }
          } else {
            offenders.append("\(file):\(number + 1): \(code)")
          }
        }
      }
    }
    #expect(
      offenders.isEmpty,
      "raw environment reads outside Config/:\n\(offenders.joined(separator: "\n"))")
    #expect(captures == 1, "the process environment is captured in \(captures) places in \(Self.environmentReader)")
  }

  /// The other modules of the three programs read no environment either, but for comfyctl's one owner
  /// (HostEnvironment): libcurl's CA bundle comes from whichever program's owner read it (CABundle).
  @Test func noOtherModuleReadsTheProcessEnvironment() throws {
    let owners: Set<String> = ["ComfyCtlKit/Project/HostEnvironment.swift"]
    let modules = ["ComfyCtlKit", "GatewayKit", "HTTPClient", "Spawn", "Digest", "Bcrypt", "Version", "AuthContract"]
    let patterns = ["getenv(", "processinfo.processinfo.environment", "environ"]
    var offenders: [String] = []
    var ownerReads = 0
    for module in modules {
      let root = Paths.root + "/Sources/" + module
      for file in try FileManager.default.subpathsOfDirectory(atPath: root) where file.hasSuffix(".swift") {
        let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
          let code = line.trimmingCharacters(in: .whitespaces)
          if code.hasPrefix("//") || code.hasPrefix("///") { continue }
          for pattern in patterns where Self.containsWord(code, pattern) {
            if owners.contains(module + "/" + file) {
              ownerReads += 1
            } else {
              offenders.append("\(module)/\(file):\(number + 1): \(code)")
            }
          }
        }
      }
    }
    #expect(offenders.isEmpty, "environment reads outside the owners:\n\(offenders.joined(separator: "\n"))")
    #expect(ownerReads == 1, "comfyctl's environment is captured in \(ownerReads) places")
  }

  /// `pattern` in `line`, ignoring case (`childEnvironment[` counts); a pattern that is a bare word
  /// counts only as a whole word (`environ`, not `environment`).
  static func containsWord(_ line: String, _ pattern: String) -> Bool {
    let text = line.lowercased()
    guard pattern.allSatisfy(\.isLetter) else { return text.contains(pattern.lowercased()) }
    func isIdentifier(_ c: Character?) -> Bool { c.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false }
    var rest = Substring(text)
    while let range = rest.range(of: pattern) {
      let before = range.lowerBound > rest.startIndex ? rest[rest.index(before: range.lowerBound)] : nil
      if !isIdentifier(before) && !isIdentifier(rest[range.upperBound...].first) { return true }
      rest = rest[range.upperBound...]
    }
    return false
  }

  @Test func thePinnedLoginRefAppliesToTheDefaultRepositoryOnly() throws {
    let pinned = try Config.load(environment: [:])
    #expect(pinned.wantedNodes.first?.ref == Config.defaultLoginRef)
    let same = try Config.load(environment: ["COMFYUI_LOGIN_REPO": Config.defaultLoginRepo])
    #expect(same.loginRef == Config.defaultLoginRef)
    let fork = try Config.load(environment: ["COMFYUI_LOGIN_REPO": "https://example.com/fork/ComfyUI-Login.git"])
    #expect(fork.loginRef == nil, "another repository gets its default branch")
    #expect(fork.wantedNodes.first?.ref == nil)
    let forkPinned = try Config.load(environment: [
      "COMFYUI_LOGIN_REPO": "https://example.com/fork/ComfyUI-Login.git", "COMFYUI_LOGIN_REF": "v2",
    ])
    #expect(forkPinned.loginRef == "v2")
  }

  /// Before: "commit 69109257… is not in file://…/login-src"; now the fork's default branch is cloned.
  @Test func anotherLoginRepositoryWithoutARefIsClonedAtItsDefaultBranch() throws {
    let h = ComfyHome()
    let result = try h.bootstrap(["COMFYUI_LOGIN_REF": ""])
    #expect(result.status == 0, "\(result.stderr)")
    let login = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login"
    let head = try runProcess(["git", "-C", login, "rev-parse", "HEAD"], environment: baseEnvironment())
    let master = try runProcess(
      ["git", "-C", String(StandinRepos.loginRepo.dropFirst(7)), "rev-parse", "master"], environment: baseEnvironment())
    #expect(head.stdout == master.stdout && !head.stdout.isEmpty, "\(head.all) \(master.all)")
    let stamp = try String(contentsOfFile: h.home + "/.comfy-init/nodes/ComfyUI-Login.checkout", encoding: .utf8)
    #expect(stamp.split(separator: "\n").dropFirst().first == "HEAD", "\(stamp)")
  }

  @Test func booleansAcceptTheSameWordsEverywhere() throws {
    for word in ["1", "true", "YES", " on "] {
      #expect(try Config.load(environment: ["COMFYUI_OFFLINE": word]).offline, "\(word)")
      #expect(try Config.load(environment: ["PIP_NO_INDEX": word]).installer.pipNoIndex, "\(word)")
    }
    for word in ["0", "false", "No", "off"] {
      #expect(try !Config.load(environment: ["COMFYUI_OFFLINE": word]).offline, "\(word)")
      #expect(try !Config.load(environment: ["COMFYUI_REDACT_LOGS": word]).redactLogs, "\(word)")
    }
    #expect(Config.trueWords == ["1", "true", "yes", "on"] && Config.falseWords == ["0", "false", "no", "off"])
  }
}
