// The effective configuration: environment first, then command-line flags, all validated before
// anything touches the disk.
import Bcrypt

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

public struct Config: Sendable {
  public static let defaultRepo = "https://github.com/comfyanonymous/ComfyUI.git"
  /// The ComfyUI release this version of comfy-init was tested against.
  public static let defaultRef = "v0.8.0"
  public static let defaultLoginRepo = "https://github.com/liusida/ComfyUI-Login.git"
  public static let loginNodeName = "ComfyUI-Login"
  /// ComfyUI-Login has no release tags: pin the commit whose contract docs/architecture.md describes.
  public static let defaultLoginRef = "69109257f4629a11ebe26cd65667536c4f8dddcb"

  public var home = "/opt/comfyui"
  public var repo = Config.defaultRepo
  public var ref = Config.defaultRef
  public var venv = ""
  public var pipExtra = ["einops"]
  public var customNodes: [CustomNode] = []
  public var loginRepo = Config.defaultLoginRepo
  public var loginRef: String? = Config.defaultLoginRef
  public var auth = AuthMode.login
  public var username = "admin"
  public var credential: Credential? = nil
  /// Where the credential came from (for the redacted log line).
  public var credentialSource = "none"
  /// For a credential read from a file: that file's identity and change times, never its content. A
  /// restart whose file is unchanged need not check the password against login/PASSWORD again.
  public var credentialFingerprint: String? = nil
  public var listen = "0.0.0.0"
  public var port = 8188
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
  public var skipModels = false
  public var modelsManifest: String? = nil
  public var environment: [String: String] = [:]

  public var comfyDir: String { home + "/ComfyUI" }
  public var customNodesDir: String { comfyDir + "/custom_nodes" }
  public var stateDir: String { home + "/.comfy-init" }
  public var passwordFile: String { comfyDir + "/login/PASSWORD" }
  public var python: String { venv + "/bin/python" }

  public init() {}

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
    if auth == .login { parts.append("user=\(username) credential=\(credentialSource)") }
    if !pipExtra.isEmpty { parts.append("extra=\(pipExtra.joined(separator: ","))") }
    if !customNodes.isEmpty { parts.append("nodes=\(customNodes.map(\.name).joined(separator: ","))") }
    if !serverArgs.isEmpty { parts.append("args=\(serverArgs.count)") }
    if update { parts.append("update=1") }
    if offline { parts.append("offline=1") }
    return parts.joined(separator: " ")
  }
}

/// Hides "user:token@" in URLs before they are logged.
public func redactURL(_ url: String) -> String {
  guard let scheme = url.rangeOfSubstring("://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else {
    return url
  }
  let authority = url[scheme.upperBound..<at]
  if authority.contains("/") { return url }
  return String(url[..<scheme.upperBound]) + "***@" + String(url[url.index(after: at)...])
}

extension Config {
  /// Environment variables comfy-init reads; flags map onto them (`--stop-timeout 3` is COMFYUI_STOP_TIMEOUT=3).
  public static let knownVariables: Set<String> = [
    "COMFYUI_HOME", "COMFYUI_REPO", "COMFYUI_REF", "COMFYUI_VENV", "COMFYUI_PIP_EXTRA", "COMFYUI_CUSTOM_NODES",
    "COMFYUI_LOGIN_REPO", "COMFYUI_LOGIN_REF", "COMFYUI_AUTH", "COMFYUI_LOGIN_ENABLED", "COMFYUI_USERNAME",
    "COMFYUI_PASSWORD", "COMFYUI_PASSWORD_FILE", "COMFYUI_PASSWORD_HASH", "COMFYUI_PASSWORD_HASH_FILE",
    "COMFYUI_LISTEN", "COMFYUI_PORT", "COMFYUI_ARGS", "COMFYUI_UPDATE", "COMFYUI_OFFLINE", "COMFYUI_STOP_TIMEOUT",
    "COMFYUI_STOP_SIGNAL", "COMFYUI_INIT", "COMFYUI_REDACT_LOGS", "PUID", "PGID", "COMFYUI_SKIP_MODELS",
    "COMFYUI_MODELS_MANIFEST",
  ]

  /// Secrets are refused as flags: argv is visible to every user of the machine and in `docker inspect`.
  static let secretVariables: Set<String> = ["COMFYUI_PASSWORD", "COMFYUI_PASSWORD_HASH"]

  /// What comfy-init consumes and no child (git, pip, the server, its custom nodes) gets: the
  /// credential and the Hub token, and where they are kept.
  static let withheldFromChildren: Set<String> = [
    "COMFYUI_PASSWORD", "COMFYUI_PASSWORD_FILE", "COMFYUI_PASSWORD_HASH", "COMFYUI_PASSWORD_HASH_FILE", "HF_TOKEN",
    "HF_TOKEN_FILE", "HF_API_TOKEN",
  ]

  /// Applies `--name value` / `--name=value` flags over the environment. Returns the updated
  /// environment; unknown flags are usage errors.
  public static func applyFlags(_ flags: [String], to environment: [String: String]) throws(InitError)
    -> [String: String]
  {
    var env = environment
    var index = 0
    while index < flags.count {
      let flag = flags[index]
      guard flag.hasPrefix("--"), flag.count > 2 else {
        throw InitError(.usage, "unexpected argument '\(flag)'; server arguments go after '--' (see comfy-init --help)")
      }
      var name = String(flag.dropFirst(2))
      var value: String
      if let eq = name.firstIndex(of: "=") {
        value = String(name[name.index(after: eq)...])
        name = String(name[..<eq])
      } else {
        let booleans: Set<String> = ["update", "offline", "skip-models"]
        if booleans.contains(name) {
          value = "1"
        } else {
          guard index + 1 < flags.count else { throw InitError(.usage, "flag --\(name) needs a value") }
          index += 1
          value = flags[index]
        }
      }
      let upper = name.uppercased().replacingDashes()
      let variable = (upper == "PUID" || upper == "PGID") ? upper : "COMFYUI_" + upper
      guard knownVariables.contains(variable) else {
        throw InitError(.usage, "unknown flag --\(name) (see comfy-init --help)")
      }
      guard !secretVariables.contains(variable) else {
        throw InitError(
          .usage, "--\(name) would put a secret on the command line; set \(variable)_FILE or \(variable) instead")
      }
      env[variable] = value
      index += 1
    }
    return env
  }

  /// Reads and validates everything; the first problem found is reported with how to fix it.
  public static func load(environment env: [String: String]) throws(InitError) -> Config {
    var c = Config()
    c.environment = env
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
    }
    if let ref = value("COMFYUI_LOGIN_REF") {
      c.loginRef = ref.trimmingWhitespace()
      try validateRef(c.loginRef!, variable: "COMFYUI_LOGIN_REF")
    }

    if let auth = value("COMFYUI_AUTH") {
      guard let mode = AuthMode(rawValue: auth.trimmingWhitespace().lowercased()) else {
        throw InitError(.config, "COMFYUI_AUTH='\(auth)' is not valid; use login or none")
      }
      c.auth = mode
    } else if let legacy = value("COMFYUI_LOGIN_ENABLED") {
      c.auth = try parseBool(legacy, variable: "COMFYUI_LOGIN_ENABLED") ? .login : .none
    }
    if let user = env["COMFYUI_USERNAME"] { c.username = user }
    guard !c.username.isEmpty, !c.username.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
      throw InitError(.config, "COMFYUI_USERNAME must be one non-empty line (it is line 2 of login/PASSWORD)")
    }
    if c.auth == .login { try loadCredential(into: &c, env: env) }

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
    if let args = env["COMFYUI_ARGS"] {
      do {
        c.serverArgs = try ShellWords.split(args)
      } catch {
        throw InitError(.config, "COMFYUI_ARGS has \(error); close it or escape it with a backslash")
      }
      try ServerFlags.validate(c.serverArgs, auth: c.auth, source: "COMFYUI_ARGS")
    }
    if let update = value("COMFYUI_UPDATE") { c.update = try parseBool(update, variable: "COMFYUI_UPDATE") }
    if let offline = value("COMFYUI_OFFLINE") { c.offline = try parseBool(offline, variable: "COMFYUI_OFFLINE") }
    if let redact = value("COMFYUI_REDACT_LOGS") {
      c.redactLogs = try parseBool(redact, variable: "COMFYUI_REDACT_LOGS")
    }
    if let skip = value("COMFYUI_SKIP_MODELS") { c.skipModels = try parseBool(skip, variable: "COMFYUI_SKIP_MODELS") }
    c.modelsManifest = value("COMFYUI_MODELS_MANIFEST")
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
      text = String(decoding: bytes, as: UTF8.self)
      // Secret files usually end with a newline that is not part of the secret.
      while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
    }
    c.credentialSource = source
    if source.hasPrefix("COMFYUI_PASSWORD_HASH") {
      // A hash file may also carry the username on line 2, as login/PASSWORD does.
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      let hash = String(lines.first ?? "").trimmingWhitespace()
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

  static func parseBool(_ text: String, variable: String) throws(InitError) -> Bool {
    switch text.trimmingWhitespace().lowercased() {
    case "1", "true", "yes", "on": return true
    case "0", "false", "no", "off": return false
    default: throw InitError(.config, "\(variable)='\(text)' is not a boolean; use 1 or 0")
    }
  }
}

func stripTrailingSlashes(_ path: String) -> String {
  var p = path.trimmingWhitespace()
  while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
  return p
}

extension String {
  func trimmingWhitespace() -> String {
    var s = Substring(self)
    while let f = s.first, f.isWhitespace { s.removeFirst() }
    while let l = s.last, l.isWhitespace { s.removeLast() }
    return String(s)
  }

  func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }

  /// The first occurrence of `needle`. (The standard library's firstRange(of:) would link the
  /// regex engine, half a megabyte, into the static binary.)
  func rangeOfSubstring(_ needle: String) -> Range<String.Index>? {
    guard !needle.isEmpty else { return nil }
    var start = startIndex
    while start < endIndex {
      if self[start...].hasPrefix(needle) { return start..<index(start, offsetBy: needle.count) }
      start = index(after: start)
    }
    return nil
  }
}
