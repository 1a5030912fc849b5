// Reading the configuration: the environment (captured here, the one place comfy-init reads it),
// then the flags over it, then the table of variables walked row by row (Variables.swift), then what
// no single variable can say. Everything is validated before anything touches the disk; the first
// problem found is reported with how to fix it.
import HTTPClient
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

extension Config {
  /// The process environment as a dictionary: the one place that captures it (later entries win,
  /// as getenv() would not, but duplicates do not occur in practice).
  public static func processEnvironment() -> [String: String] {
    var result = [String: String]()
    var pointer = environ
    while let entry = pointer.pointee {
      let line = String(cString: entry)
      if let eq = line.firstIndex(of: "=") {
        result[String(line[..<eq])] = String(line[line.index(after: eq)...])
      }
      pointer += 1
    }
    return result
  }

  /// Another process's environment entries ("NAME=value"), as /proc shows them; none when this uid
  /// may not read them. ToolLedger asks which processes carry its mark.
  static func environment(ofProcess pid: pid_t) -> [ArraySlice<UInt8>] {
    ProcessTable.read("/proc/\(pid)/environ").split(separator: 0)
  }

  /// Applies `--flag value` / `--flag=value` / `--switch` over the environment, each flag as the
  /// table of variables names it. Returns the updated environment; unknown flags and secrets given
  /// as flags are usage errors.
  public static func applyFlags(_ flags: [String], to environment: [String: String]) throws(InitError)
    -> [String: String]
  {
    var env = environment
    var index = 0
    while index < flags.count {
      let word = flags[index]
      guard word.hasPrefix("--"), word.count > 2 else {
        throw InitError(.usage, "unexpected argument '\(word)'; server arguments go after '--' (see comfy-init --help)")
      }
      var name = String(word.dropFirst(2))
      var inline: String? = nil
      if let eq = name.firstIndex(of: "=") {
        inline = String(name[name.index(after: eq)...])
        name = String(name[..<eq])
      }
      guard let variable = Config.variable(forFlag: name) else {
        throw InitError(.usage, "unknown flag --\(name) (see comfy-init --help)")
      }
      guard variable.kind != .secret else {
        let file = knownVariables.contains(variable.name + "_FILE") ? variable.name + "_FILE" : "HF_TOKEN_FILE"
        throw InitError(
          .usage, "--\(name) would put a secret on the command line; set \(file) or \(variable.name) instead")
      }
      if let inline {
        env[variable.name] = inline
      } else if variable.kind == .switch {
        env[variable.name] = "1"
      } else {
        guard index + 1 < flags.count else { throw InitError(.usage, "flag --\(name) needs a value") }
        index += 1
        env[variable.name] = flags[index]
      }
      index += 1
    }
    return env
  }

  /// Walks the table, then checks what no single variable can say. `readSecrets: false` (the health
  /// check) leaves the credential and the Hub token alone.
  public static func load(environment env: [String: String], readSecrets: Bool = true) throws(InitError) -> Config {
    var c = Config()
    c.childEnvironment = env
    for variable in variables where variable.isWithheld { c.childEnvironment[variable.name] = nil }
    /// A variable's value as its row reads it; nil when unset (or blank, for most).
    func value(_ variable: Variable) -> String? {
      guard let v = env[variable.name] else { return nil }
      return variable.blankIsUnset && v.trimmingWhitespace().isEmpty ? nil : v
    }
    for variable in variables {
      if let read = variable.read, let text = value(variable) { try read(text, &c) }
    }
    // The home's layout owns the defaults of the folders derived from it.
    c.venv = c.layout.venv
    c.stateDir = c.layout.stateDir

    let set = { (names: [String]) in names.compactMap { name in env[name].flatMap { $0.isEmpty ? nil : (name, $0) } } }
    if c.auth == .login && readSecrets { c.credential = try SuppliedCredential.read(set(SuppliedCredential.variables)) }
    if readSecrets, let (name, token) = set(HubToken.variables).first {
      c.hubToken = HubToken.read(name: name, value: token)
    }
    if readSecrets, let (name, token) = set(HubToken.civitaiVariables).first {
      c.civitaiToken = HubToken.read(name: name, value: token)
    }
    // HTTPClient reads no environment: it gets the bundle from here, the one reader.
    CABundle.use(c.caBundle)
    try c.checkCombinations()
    return c
  }

  /// What one variable alone cannot say.
  private func checkCombinations() throws(InitError) {
    if auth == .login {
      guard !listen.contains(",") else {
        throw InitError(
          .config,
          "COMFYUI_LISTEN='\(listen)' names several addresses, but the gate listens on one; use 0.0.0.0 (IPv4) or :: (both)"
        )
      }
      guard gate.internalPort != port else {
        throw InitError(
          .config,
          "COMFYUI_INTERNAL_PORT=\(gate.internalPort) is COMFYUI_PORT too: the gate and ComfyUI need two ports; pick another internal port"
        )
      }
    }
    if initMode == .exec && auth == .login {
      throw InitError(
        .config,
        "COMFYUI_INIT=exec cannot keep auth on: comfy-init would not be there to stop a server whose ComfyUI-Login failed to load; use COMFYUI_INIT=supervise (the default)"
      )
    }
    if pgid != nil && puid == nil {
      throw InitError(.config, "PGID is set without PUID; set both, e.g. PUID=1000 PGID=1000")
    }
  }
}

// The readers the rows share.
extension Config {
  static func absolutePath(_ text: String, _ variable: String, example: String) throws(InitError) -> String {
    let path = stripTrailingSlashes(text)
    guard path.hasPrefix("/") else {
      throw InitError(.config, "\(variable)='\(path)' must be an absolute path, e.g. \(example)")
    }
    return path
  }

  static func port(_ text: String, _ variable: String, example: Int) throws(InitError) -> Int {
    guard let number = Int(text.trimmingWhitespace()), (1...65535).contains(number) else {
      throw InitError(.config, "\(variable)='\(text)' is not a port; use a number from 1 to 65535, e.g. \(example)")
    }
    return number
  }

  /// COMFYUI_PIP_EXTRA: requirements separated by commas, blanks or lines; an option is refused
  /// (`--index-url=...` would redirect every install).
  static func pipRequirements(_ text: String) throws(InitError) -> [String] {
    let requirements = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
    for requirement in requirements where requirement.hasPrefix("-") {
      throw InitError(
        .config, "COMFYUI_PIP_EXTRA holds '\(requirement)', an option; list requirements only (e.g. einops,rich)")
    }
    return requirements
  }

  /// COMFYUI_CUSTOM_NODES: URL[@REF] entries separated by commas or lines; `#` starts a comment entry.
  static func customNodes(_ text: String) throws(InitError) -> [CustomNode] {
    var nodes: [CustomNode] = []
    for spec in text.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
      let trimmed = String(spec).trimmingWhitespace()
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      guard let node = CustomNode.parse(trimmed) else {
        throw InitError(
          .config, "COMFYUI_CUSTOM_NODES entry '\(trimmed)' is not URL[@REF], e.g. https://host/owner/Node.git@v1.2")
      }
      _ = try validateURL(node.url, variable: "COMFYUI_CUSTOM_NODES")
      if let ref = node.ref { _ = try validateRef(ref, variable: "COMFYUI_CUSTOM_NODES") }
      if nodes.contains(where: { $0.name == node.name }) {
        throw InitError(.config, "COMFYUI_CUSTOM_NODES names the folder '\(node.name)' twice; keep one entry")
      }
      nodes.append(node)
    }
    return nodes
  }

  static func validateRef(_ ref: String, variable: String) throws(InitError) -> String {
    guard !ref.isEmpty, !ref.hasPrefix("-"), ref.rangeOfSubstring("..") == nil,
      ref.allSatisfy({ $0.isLetter || $0.isNumber || "._/-+".contains($0) })
    else {
      throw InitError(.config, "\(variable)='\(ref)' is not a git tag, branch or commit, e.g. v0.8.0")
    }
    return ref
  }

  /// git would read a URL that starts with "-" as an option (`--upload-pack=CMD` runs CMD).
  static func validateURL(_ url: String, variable: String) throws(InitError) -> String {
    guard !url.hasPrefix("-"), !url.contains(where: { $0 == "\n" || $0 == "\0" }) else {
      throw InitError(
        .config, "\(variable)='\(url)' is not a repository URL; use https://host/owner/repo.git or a local path")
    }
    return url
  }

  /// An http(s) endpoint without its trailing slashes (huggingface_hub strips them from HF_ENDPOINT too).
  static func endpoint(_ text: String, variable: String) throws(InitError) -> String {
    var url = text.trimmingWhitespace()
    while url.hasSuffix("/") { url.removeLast() }
    guard url.hasPrefix("https://") || url.hasPrefix("http://"), URLParts(url) != nil, !url.contains("?") else {
      throw InitError(.config, "\(variable)='\(text)' is not an http(s) URL; e.g. https://huggingface.co")
    }
    return url
  }

  /// The words every boolean variable accepts (comfyctl's Settings accepts the same ones).
  public static let trueWords: Set<String> = ["1", "true", "yes", "on"]
  public static let falseWords: Set<String> = ["0", "false", "no", "off"]

  /// A boolean variable: one of trueWords or falseWords, any case, surrounding blanks ignored.
  static func bool(_ text: String, variable: String) throws(InitError) -> Bool {
    let word = text.trimmingWhitespace().lowercased()
    if trueWords.contains(word) { return true }
    if falseWords.contains(word) { return false }
    throw InitError(.config, "\(variable)='\(text)' is not a boolean; use 1 or 0")
  }
}
