// The effective configuration: environment first, then command-line flags, all validated before
// anything touches the disk. Config is the only reader of the environment: every variable of
// ConfigVariables.swift is parsed here into a typed field, and what children get is computed here
// (childEnvironment); no other file reads an environment value.
import Bcrypt
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

public struct CustomNode: Equatable, Sendable {
  public var url: String
  public var ref: String?
  /// The folder name under custom_nodes/: the repository's last path component, without ".git".
  public var name: String

  /// Parses "URL[@REF]". An "@" inside the URL's authority (user@host) is not a ref separator.
  public static func parse(_ spec: String) -> CustomNode? {
    var url = spec
    var ref: String? = nil
    if let at = spec.lastIndex(of: "@") {
      let tail = spec[spec.index(after: at)...]
      if !tail.contains("/") && !tail.contains(":") && !tail.isEmpty {
        url = String(spec[..<at])
        ref = String(tail)
      }
    }
    var trimmed = Substring(url)
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    let last = trimmed.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? ""
    let name = last.hasSuffix(".git") ? String(last.dropLast(4)) : last
    guard !url.isEmpty, !name.isEmpty, name != ".", name != "..", !name.hasPrefix(".") else { return nil }
    return CustomNode(url: String(trimmed), ref: ref, name: name)
  }
}

public enum Credential: Equatable, Sendable {
  case password(String)
  case hash(String)
}

public enum AuthMode: String, Sendable { case login, none }
public enum InitMode: String, Sendable { case supervise, exec }

/// COMFYUI_INSTALLER and the PIP_*/UV_* variables that change what gets installed into the venv.
public struct InstallerSettings: Equatable, Sendable {
  public enum Choice: String, Sendable { case auto, pip, uv }

  /// The variables that change what pip or uv would install (all of them reach the installer
  /// unchanged, through the children's environment).
  public static let variables = [
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_PRE", "PIP_CONSTRAINT",
    "PIP_ONLY_BINARY", "PIP_NO_BINARY", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX",
    "UV_FIND_LINKS", "UV_NO_INDEX", "UV_PRERELEASE", "UV_CONSTRAINT",
  ]

  /// auto: uv when it is on PATH, else pip.
  public var choice = Choice.auto
  /// Each of `variables` that is set, as written: the venv's fingerprint covers them.
  public var values: [String: String] = [:]
  public var pipIndexURL: String? = nil
  public var pipExtraIndexURLs: [String] = []
  public var pipFindLinks: [String] = []
  public var pipNoIndex = false
  /// uv's own index settings win over the PIP_* ones comfy-init translates for it.
  public var uvSetsIndex = false
  public var uvSetsExtraIndex = false
  public var uvSetsFindLinks = false

  /// COMFYUI_TORCH_INDEX_URL: the index torch and its companions come from, and nothing else does
  /// (PyTorch's own index for one CUDA variant).
  public var torchIndexURL: String? = nil

  /// A wheel folder the installer can use without the network.
  public var hasFindLinks: Bool { !pipFindLinks.isEmpty || uvSetsFindLinks }
}

/// The Hugging Face token (HF_TOKEN, HF_TOKEN_FILE, HF_API_TOKEN: the first one set wins). A token
/// that cannot be used is reported only when a download needs it: a token file need not be mounted
/// once every model is in place.
public enum HubToken: Equatable, Sendable {
  case none
  case token(String, source: String)
  /// Set, but unreadable or not one line: the message says which and how to fix it.
  case unusable(String)
}

public struct Config: Equatable, Sendable {
  public static let defaultRepo = "https://github.com/comfyanonymous/ComfyUI.git"
  /// The ComfyUI release this version of comfy-init was tested against.
  public static let defaultRef = "v0.8.0"
  public static let defaultLoginRepo = "https://github.com/liusida/ComfyUI-Login.git"
  public static let loginNodeName = "ComfyUI-Login"
  /// ComfyUI-Login has no release tags: pin the commit whose contract docs/architecture.md describes.
  /// It applies to the default repository only: another COMFYUI_LOGIN_REPO without COMFYUI_LOGIN_REF
  /// gets its default branch.
  public static let defaultLoginRef = "69109257f4629a11ebe26cd65667536c4f8dddcb"
  public static let defaultDownloadConcurrency = 3
  /// Hosts the Hugging Face token is sent to, besides COMFYUI_TOKEN_HOSTS.
  public static let defaultTokenHosts = ["huggingface.co"]

  public var home = "/opt/comfyui"
  public var repo = Config.defaultRepo
  public var ref = Config.defaultRef
  public var venv = ""
  /// COMFYUI_STATE_DIR; "" until load() sets it (HOME/.comfy-init when unset).
  public var stateDir = ""
  public var pipExtra = ["einops"]
  public var customNodes: [CustomNode] = []
  public var loginRepo = Config.defaultLoginRepo
  public var loginRef: String? = Config.defaultLoginRef
  public var auth = AuthMode.login
  public var username = "admin"
  /// COMFYUI_GUEST_MODE: ComfyUI-Login's guest switch (login/GUEST_MODE) stays; else it is removed.
  public var guestMode = false
  public var credential: Credential? = nil
  /// Where the credential came from (for the redacted log line).
  public var credentialSource = "none"
  /// For a credential read from a file: that file's identity and change times, never its content. A
  /// restart whose file is unchanged need not check the password against login/PASSWORD again.
  public var credentialFingerprint: String? = nil
  /// Where clients connect: with auth on the gate listens there and ComfyUI on 127.0.0.1:gate.internalPort.
  public var listen = "0.0.0.0"
  public var port = 8188
  public var gate = GateSettings()
  public var serverArgs: [String] = []
  public var update = false
  public var offline = false
  public var stopTimeout = 8.0
  public var initMode = InitMode.supervise
  public var stopSignal = SIGINT
  public var puid: uid_t? = nil
  public var pgid: gid_t? = nil
  /// Cut the token and password out of the server's log (COMFYUI_REDACT_LOGS=0 turns it off).
  public var redactLogs = true
  public var installer = InstallerSettings()
  public var skipModels = false
  public var modelsManifest: String? = nil
  public var downloadConcurrency = Config.defaultDownloadConcurrency
  /// COMFYUI_TOKEN_HOSTS, lower case, without leading dots.
  public var tokenHosts: [String] = []
  public var hubToken = HubToken.none
  /// CURL_CA_BUNDLE, else SSL_CERT_FILE: the CA bundle comfy-init's HTTPS checks servers against (nil:
  /// the distribution's). Children get both variables as they are.
  public var caBundle: String? = nil
  /// What every child (git, pip, the server) gets: the environment with the flags applied, less what
  /// comfy-init consumes (the credential, the Hub token, and where they are kept).
  public var childEnvironment: [String: String] = [:]

  public init() {}

  /// Every path under the home, the venv and the state folder.
  public var layout: HomeLayout { HomeLayout(home: home, venv: venv, stateDir: stateDir.isEmpty ? nil : stateDir) }

  /// PUID:PGID (PGID defaults to PUID), nil without PUID.
  public var owner: (uid: uid_t, gid: gid_t)? { puid.map { ($0, pgid ?? gid_t($0)) } }

  /// Where tools are looked for: the PATH children get.
  public var searchPath: String { childEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin" }

  /// The server's environment: the children's, with Python's output unbuffered (a pipe's output is
  /// buffered otherwise, and the container log would lag behind the server).
  public var serverEnvironment: [String: String] {
    var env = childEnvironment
    if env["PYTHONUNBUFFERED"] == nil { env["PYTHONUNBUFFERED"] = "1" }
    return env
  }

  /// Children need a HOME and a temporary folder they can write. HOME: pip's cache, git's config,
  /// Python libraries' caches; after the PUID drop root's is not PUID's, and a uid without a passwd
  /// entry (`--user 12345:0`) gets "/". COMFYUI_HOME serves when writable, else a folder in the state
  /// folder (a read-only root); no /etc/passwd entry is needed. The temporary folder: Python's
  /// tempfile (torch calls it while ComfyUI imports it) tries TMPDIR, TEMP, TMP, /tmp, /var/tmp,
  /// /usr/tmp and the current folder, and raises when none is writable: on a read-only root without a
  /// /tmp mount the real server died at its start. TMPDIR then names a folder in the state folder.
  public mutating func giveChildrenWritablePlaces() {
    if access(childEnvironment["HOME"] ?? "/", W_OK) != 0 {
      if access(home, W_OK) == 0 {
        childEnvironment["HOME"] = home
      } else if (try? FileSystem.makeDirectories(layout.fallbackUserHome, mode: 0o700)) != nil {
        childEnvironment["HOME"] = layout.fallbackUserHome
      }
    }
    let environment = childEnvironment
    let temp = ["TMPDIR", "TEMP", "TMP"].compactMap { environment[$0] }.first ?? "/tmp"
    if access(temp, W_OK) != 0, (try? FileSystem.makeDirectories(layout.fallbackTempDir, mode: 0o700)) != nil {
      childEnvironment["TMPDIR"] = layout.fallbackTempDir
    }
  }

  /// Every custom node to install: ComfyUI-Login first when auth is on, then COMFYUI_CUSTOM_NODES.
  public var wantedNodes: [CustomNode] {
    var nodes = customNodes.filter { $0.name != Config.loginNodeName }
    if auth == .login {
      nodes.insert(CustomNode(url: loginRepo, ref: loginRef, name: Config.loginNodeName), at: 0)
    }
    return nodes
  }

  /// The configuration for one line of the log; secrets never appear, only where they came from.
  public var redactedSummary: String {
    var parts = [
      "home=\(home)", "ref=\(ref)", "repo=\(redactURL(repo))", "venv=\(venv)", "auth=\(auth.rawValue)",
      "listen=\(listen)", "port=\(port)", "init=\(initMode.rawValue)",
    ]
    if layout.hasSeparateStateDir { parts.insert("state=\(stateDir)", at: 1) }
    if auth == .login { parts.append("user=\(username) credential=\(credentialSource)") }
    if !pipExtra.isEmpty { parts.append("extra=\(pipExtra.joined(separator: ","))") }
    if !customNodes.isEmpty { parts.append("nodes=\(customNodes.map(\.name).joined(separator: ","))") }
    if !serverArgs.isEmpty { parts.append("args=\(serverArgs.count)") }
    if update { parts.append("update=1") }
    if offline { parts.append("offline=1") }
    return parts.joined(separator: " ")
  }
}

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

  /// Reads and validates everything; the first problem found is reported with how to fix it.
  /// `readSecrets: false` (the health check) leaves the credential and the Hub token alone.
  public static func load(environment env: [String: String], readSecrets: Bool = true) throws(InitError) -> Config {
    var c = Config()
    c.childEnvironment = env
    for variable in variables where variable.isWithheld { c.childEnvironment[variable.name] = nil }
    func value(_ name: String) -> String? {
      guard let v = env[name] else { return nil }
      return v.trimmingWhitespace().isEmpty ? nil : v
    }

    if let home = value("COMFYUI_HOME") { c.home = stripTrailingSlashes(home) }
    guard c.home.hasPrefix("/") else {
      throw InitError(.config, "COMFYUI_HOME='\(c.home)' must be an absolute path, e.g. /opt/comfyui")
    }
    if let repo = value("COMFYUI_REPO") {
      c.repo = try validateURL(repo.trimmingWhitespace(), variable: "COMFYUI_REPO")
    }
    if let ref = value("COMFYUI_REF") { c.ref = ref.trimmingWhitespace() }
    try validateRef(c.ref, variable: "COMFYUI_REF")
    c.venv = value("COMFYUI_VENV").map(stripTrailingSlashes) ?? c.home + "/venv"
    guard c.venv.hasPrefix("/") else {
      throw InitError(.config, "COMFYUI_VENV='\(c.venv)' must be an absolute path, e.g. /opt/comfyui/venv")
    }
    c.stateDir = value("COMFYUI_STATE_DIR").map(stripTrailingSlashes) ?? c.home + "/.comfy-init"
    guard c.stateDir.hasPrefix("/") else {
      throw InitError(.config, "COMFYUI_STATE_DIR='\(c.stateDir)' must be an absolute path, e.g. /run/comfy-init")
    }
    if let extra = env["COMFYUI_PIP_EXTRA"] {
      c.pipExtra = extra.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
      for requirement in c.pipExtra where requirement.hasPrefix("-") {
        throw InitError(
          .config, "COMFYUI_PIP_EXTRA holds '\(requirement)', an option; list requirements only (e.g. einops,rich)")
      }
    }
    if let nodes = value("COMFYUI_CUSTOM_NODES") {
      for spec in nodes.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
        let trimmed = String(spec).trimmingWhitespace()
        if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
        guard let node = CustomNode.parse(trimmed) else {
          throw InitError(
            .config, "COMFYUI_CUSTOM_NODES entry '\(trimmed)' is not URL[@REF], e.g. https://host/owner/Node.git@v1.2")
        }
        _ = try validateURL(node.url, variable: "COMFYUI_CUSTOM_NODES")
        if let ref = node.ref { try validateRef(ref, variable: "COMFYUI_CUSTOM_NODES") }
        if c.customNodes.contains(where: { $0.name == node.name }) {
          throw InitError(.config, "COMFYUI_CUSTOM_NODES names the folder '\(node.name)' twice; keep one entry")
        }
        c.customNodes.append(node)
      }
    }
    if let repo = value("COMFYUI_LOGIN_REPO") {
      c.loginRepo = try validateURL(repo.trimmingWhitespace(), variable: "COMFYUI_LOGIN_REPO")
      // The pinned commit belongs to the default repository: another one (a fork, a mirror) may not
      // have it, and gets its default branch unless COMFYUI_LOGIN_REF pins it.
      if c.loginRepo != defaultLoginRepo { c.loginRef = nil }
    }
    if let ref = value("COMFYUI_LOGIN_REF") {
      let ref = ref.trimmingWhitespace()
      try validateRef(ref, variable: "COMFYUI_LOGIN_REF")
      c.loginRef = ref
    }

    if let auth = value("COMFYUI_AUTH") {
      guard let mode = AuthMode(rawValue: auth.trimmingWhitespace().lowercased()) else {
        throw InitError(.config, "COMFYUI_AUTH='\(auth)' is not valid; use login or none")
      }
      c.auth = mode
    } else if let legacy = value("COMFYUI_LOGIN_ENABLED") {
      c.auth = try bool(legacy, variable: "COMFYUI_LOGIN_ENABLED") ? .login : .none
    }
    if let user = env["COMFYUI_USERNAME"] { c.username = user }
    guard !c.username.isEmpty, !c.username.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
      throw InitError(.config, "COMFYUI_USERNAME must be one non-empty line (it is line 2 of login/PASSWORD)")
    }
    if c.auth == .login && readSecrets { try loadCredential(into: &c, env: env) }

    if let listen = value("COMFYUI_LISTEN") { c.listen = listen.trimmingWhitespace() }
    guard c.listen.allSatisfy({ $0.isLetter || $0.isNumber || ".:,-[]%".contains($0) }) else {
      throw InitError(.config, "COMFYUI_LISTEN='\(c.listen)' is not an address list; use e.g. 0.0.0.0 or 127.0.0.1,::1")
    }
    if let port = value("COMFYUI_PORT") {
      guard let number = Int(port.trimmingWhitespace()), (1...65535).contains(number) else {
        throw InitError(.config, "COMFYUI_PORT='\(port)' is not a port; use a number from 1 to 65535, e.g. 8188")
      }
      c.port = number
    }
    if c.auth == .login { try loadGate(into: &c, env: env) }
    if let args = env["COMFYUI_ARGS"] {
      do {
        c.serverArgs = try ShellWords.split(args)
      } catch {
        throw InitError(.config, "COMFYUI_ARGS has \(error); close it or escape it with a backslash")
      }
      try ServerFlags.validate(c.serverArgs, auth: c.auth, source: "COMFYUI_ARGS")
    }
    if let guests = value("COMFYUI_GUEST_MODE") { c.guestMode = try bool(guests, variable: "COMFYUI_GUEST_MODE") }
    if let update = value("COMFYUI_UPDATE") { c.update = try bool(update, variable: "COMFYUI_UPDATE") }
    if let offline = value("COMFYUI_OFFLINE") { c.offline = try bool(offline, variable: "COMFYUI_OFFLINE") }
    if let redact = value("COMFYUI_REDACT_LOGS") {
      c.redactLogs = try bool(redact, variable: "COMFYUI_REDACT_LOGS")
    }
    try loadInstaller(into: &c, env: env)
    if let skip = value("COMFYUI_SKIP_MODELS") { c.skipModels = try bool(skip, variable: "COMFYUI_SKIP_MODELS") }
    c.modelsManifest = value("COMFYUI_MODELS_MANIFEST")
    if let text = value("COMFYUI_DOWNLOAD_CONCURRENCY")?.trimmingWhitespace() {
      guard let n = Int(text), (1...16).contains(n) else {
        throw InitError(.config, "COMFYUI_DOWNLOAD_CONCURRENCY='\(text)' is not a number from 1 to 16, e.g. 3")
      }
      c.downloadConcurrency = n
    }
    for host in (env["COMFYUI_TOKEN_HOSTS"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
      var name = Substring(host.lowercased())
      while name.hasPrefix(".") { name = name.dropFirst() }
      if !name.isEmpty { c.tokenHosts.append(String(name)) }
    }
    if readSecrets { c.hubToken = loadHubToken(env) }
    c.caBundle = value("CURL_CA_BUNDLE") ?? value("SSL_CERT_FILE")
    // HTTPClient reads no environment: it gets the bundle from here, the one reader.
    CABundle.use(c.caBundle)
    if let timeout = value("COMFYUI_STOP_TIMEOUT") {
      guard let seconds = Double(timeout.trimmingWhitespace()), seconds >= 0, seconds <= 3600 else {
        throw InitError(.config, "COMFYUI_STOP_TIMEOUT='\(timeout)' is not a number of seconds from 0 to 3600, e.g. 8")
      }
      c.stopTimeout = seconds
    }
    if let signal = value("COMFYUI_STOP_SIGNAL") {
      guard let number = Signals.number(named: signal) else {
        throw InitError(.config, "COMFYUI_STOP_SIGNAL='\(signal)' is not a signal name; use SIGINT or SIGTERM")
      }
      c.stopSignal = number
    }
    if let mode = value("COMFYUI_INIT") {
      guard let parsed = InitMode(rawValue: mode.trimmingWhitespace().lowercased()) else {
        throw InitError(.config, "COMFYUI_INIT='\(mode)' is not valid; use supervise or exec")
      }
      c.initMode = parsed
    }
    if c.initMode == .exec && c.auth == .login {
      throw InitError(
        .config,
        "COMFYUI_INIT=exec cannot keep auth on: comfy-init would not be there to stop a server whose ComfyUI-Login failed to load; use COMFYUI_INIT=supervise (the default)"
      )
    }
    if let puid = value("PUID") {
      guard let id = UInt32(puid.trimmingWhitespace()) else {
        throw InitError(.config, "PUID='\(puid)' is not a numeric user id, e.g. 1000")
      }
      c.puid = id
    }
    if let pgid = value("PGID") {
      guard let id = UInt32(pgid.trimmingWhitespace()) else {
        throw InitError(.config, "PGID='\(pgid)' is not a numeric group id, e.g. 1000")
      }
      c.pgid = id
    }
    if c.pgid != nil && c.puid == nil {
      throw InitError(.config, "PGID is set without PUID; set both, e.g. PUID=1000 PGID=1000")
    }
    return c
  }

  /// The gate's settings (auth on only: without auth there is no gate).
  private static func loadGate(into c: inout Config, env: [String: String]) throws(InitError) {
    func value(_ name: String) -> String? { env[name].flatMap { $0.isEmpty ? nil : $0.trimmingWhitespace() } }
    guard !c.listen.contains(",") else {
      throw InitError(
        .config,
        "COMFYUI_LISTEN='\(c.listen)' names several addresses, but the gate listens on one; use 0.0.0.0 (IPv4) or :: (both)"
      )
    }
    if let port = value("COMFYUI_INTERNAL_PORT") {
      guard let number = Int(port), (1...65535).contains(number) else {
        throw InitError(
          .config, "COMFYUI_INTERNAL_PORT='\(port)' is not a port; use a number from 1 to 65535, e.g. 18188")
      }
      c.gate.internalPort = number
    }
    guard c.gate.internalPort != c.port else {
      throw InitError(
        .config,
        "COMFYUI_INTERNAL_PORT=\(c.gate.internalPort) is COMFYUI_PORT too: the gate and ComfyUI need two ports; pick another internal port"
      )
    }
    if let binary = value("COMFYUI_GATEWAY") {
      guard binary.hasPrefix("/") else {
        throw InitError(.config, "COMFYUI_GATEWAY='\(binary)' must be an absolute path to comfy-gateway")
      }
      c.gate.binary = binary
    }
    c.gate.tlsCert = value("COMFYUI_TLS_CERT")
    c.gate.tlsKey = value("COMFYUI_TLS_KEY")
    for proxy in (value("COMFYUI_TRUSTED_PROXIES") ?? "").split(whereSeparator: { $0 == "," || $0 == " " }) {
      guard proxy.allSatisfy({ $0.isHexDigit || ".:/".contains($0) }), proxy.contains(where: { $0.isNumber }) else {
        throw InitError(.config, "COMFYUI_TRUSTED_PROXIES: '\(proxy)' is not an address or CIDR range, e.g. 10.0.0.0/8")
      }
      c.gate.trustedProxies.append(String(proxy))
    }
    if let age = value("COMFYUI_SESSION_MAX_AGE") {
      guard let seconds = Int(age), seconds >= 60 else {
        throw InitError(
          .config, "COMFYUI_SESSION_MAX_AGE='\(age)' is not a number of seconds of 60 or more, e.g. 604800")
      }
      c.gate.sessionMaxAge = seconds
    }
  }

  private static func loadCredential(into c: inout Config, env: [String: String]) throws(InitError) {
    let sources = ["COMFYUI_PASSWORD_HASH", "COMFYUI_PASSWORD_HASH_FILE", "COMFYUI_PASSWORD", "COMFYUI_PASSWORD_FILE"]
      .filter { env[$0] != nil && !(env[$0]!.isEmpty) }
    guard sources.count <= 1 else {
      throw InitError(
        .credential, "\(sources.joined(separator: " and ")) are all set; keep exactly one credential source")
    }
    guard let source = sources.first else { return }
    var text = env[source]!
    if source.hasSuffix("_FILE") {
      let before = fingerprint(ofFile: text)
      guard let bytes = FileSystem.read(text) else {
        throw InitError(
          .credential,
          "\(source)=\(text) cannot be read (\(String(cString: strerror(errno)))); mount the secret file there or fix the path"
        )
      }
      // Only a file that did not change while it was read vouches for what was read.
      if let before, before == fingerprint(ofFile: env[source]!) { c.credentialFingerprint = before }
      // Secret files usually end with a newline (a Windows one too) that is not part of the secret.
      text = String(decoding: bytes, as: UTF8.self).droppingLineEnds()
    }
    c.credentialSource = source
    if source.hasPrefix("COMFYUI_PASSWORD_HASH") {
      // A hash file may also carry the username on line 2, as login/PASSWORD does (and its lines).
      let hash = (PasswordFile.lines(text).first ?? "").trimmingWhitespace()
      guard Bcrypt.isWellFormed(hash) else {
        throw InitError(
          .credential,
          "\(source) does not hold a bcrypt hash ($2b$12$ and 53 more characters); make one with `comfy-init hash-password`"
        )
      }
      c.credential = .hash(hash)
    } else {
      guard !text.isEmpty else {
        throw InitError(.credential, "\(source) is empty; set a password or use COMFYUI_AUTH=none")
      }
      guard text.utf8.count <= 72, !text.contains("\0") else {
        throw InitError(.credential, "\(source) is longer than bcrypt's 72 bytes; use a shorter password")
      }
      c.credential = .password(text)
    }
  }

  private static func loadInstaller(into c: inout Config, env: [String: String]) throws(InitError) {
    func value(_ name: String) -> String? {
      guard let v = env[name], !v.trimmingWhitespace().isEmpty else { return nil }
      return v
    }
    if let text = value("COMFYUI_INSTALLER") {
      guard let choice = InstallerSettings.Choice(rawValue: text.trimmingWhitespace().lowercased()) else {
        throw InitError(.config, "COMFYUI_INSTALLER='\(text)' is not valid; use auto, pip or uv")
      }
      c.installer.choice = choice
    }
    for name in InstallerSettings.variables { c.installer.values[name] = env[name] }
    c.installer.torchIndexURL = value("COMFYUI_TORCH_INDEX_URL")?.trimmingWhitespace()
    c.installer.pipIndexURL = value("PIP_INDEX_URL")
    c.installer.pipExtraIndexURLs = (value("PIP_EXTRA_INDEX_URL") ?? "").split(separator: " ").map(String.init)
    c.installer.pipFindLinks = (value("PIP_FIND_LINKS") ?? "").split(separator: " ").map(String.init)
    if let noIndex = value("PIP_NO_INDEX") { c.installer.pipNoIndex = try bool(noIndex, variable: "PIP_NO_INDEX") }
    c.installer.uvSetsIndex = value("UV_INDEX_URL") != nil || value("UV_DEFAULT_INDEX") != nil
    c.installer.uvSetsExtraIndex = value("UV_EXTRA_INDEX_URL") != nil
    c.installer.uvSetsFindLinks = value("UV_FIND_LINKS") != nil
  }

  /// Read now, as the user comfy-init started as (root before a PUID drop can read a root-only
  /// secret); a problem is kept for the moment a download needs the token.
  private static func loadHubToken(_ env: [String: String]) -> HubToken {
    for name in ["HF_TOKEN", "HF_TOKEN_FILE", "HF_API_TOKEN"] {
      guard let value = env[name], !value.isEmpty else { continue }
      var token = value.trimmingWhitespace()
      if name.hasSuffix("_FILE") {
        guard let text = FileSystem.readText(value) else {
          return .unusable("\(name)=\(value) cannot be read; mount the token file there or fix the path")
        }
        token = text.trimmingWhitespace()
      }
      guard !token.isEmpty, !token.contains(where: { $0.isNewline || $0 == "\0" }) else {
        return .unusable("\(name) must hold one token on one line; fix its value")
      }
      return .token(token, source: name)
    }
    return .none
  }

  /// Device, inode, size and change times of a file: any rewrite, `cp -p` and a Kubernetes secret
  /// update included, changes at least one of them.
  static func fingerprint(ofFile path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):"
      + "\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
  }

  static func validateRef(_ ref: String, variable: String) throws(InitError) {
    guard !ref.isEmpty, !ref.hasPrefix("-"), ref.rangeOfSubstring("..") == nil,
      ref.allSatisfy({ $0.isLetter || $0.isNumber || "._/-+".contains($0) })
    else {
      throw InitError(.config, "\(variable)='\(ref)' is not a git tag, branch or commit, e.g. v0.8.0")
    }
  }

  /// git would read a URL that starts with "-" as an option (`--upload-pack=CMD` runs CMD).
  static func validateURL(_ url: String, variable: String) throws(InitError) -> String {
    guard !url.hasPrefix("-"), !url.contains(where: { $0 == "\n" || $0 == "\0" }) else {
      throw InitError(
        .config, "\(variable)='\(url)' is not a repository URL; use https://host/owner/repo.git or a local path")
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
