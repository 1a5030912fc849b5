// Every variable comfy-init reads is one row here: its name, its flag, how --help shows its default,
// one line of documentation, and how its value is read into Config's typed field. `Config.load` walks
// the rows in this order, `Config.applyFlags` finds flags here, and `comfy-init --help` and README's
// table (a test keeps them in step) show them. A new variable: a field in Config.swift (its initial
// value is the default) and a row here.

#if canImport(Glibc)
  import Glibc
#endif

extension Config {
  public struct Variable: @unchecked Sendable {
    public enum Kind: Sendable {
      /// `--flag VALUE` or `--flag=VALUE`.
      case value
      /// `--flag` alone means 1 (`--flag=0` also works).
      case `switch`
      /// Never a flag (argv is visible to every user of the machine and in `docker inspect`), and
      /// withheld from every child.
      case secret
      /// Where a secret is kept: a flag is fine, but no child gets it.
      case secretPath
    }

    /// Reads a set value into the configuration read so far (rows earlier in the table are read).
    typealias Reader = (String, inout Config) throws(InitError) -> Void

    public let name: String
    public let flag: String
    public let kind: Kind
    /// As --help and README show it: the text of the field's initial value, or how it is derived;
    /// empty when unset by default.
    public let defaultValue: String
    public let doc: String
    /// nil for the variables read together, after the walk: a credential source must be the only
    /// one set, and the first Hugging Face token set wins (Config.load).
    let read: Reader?
    /// A value of only blanks counts as unset (most variables); false: it is read as it is.
    let blankIsUnset: Bool
    /// One of the PIP_*/UV_* variables the venv's fingerprint covers (InstallerSettings).
    let isInstallerSetting: Bool

    init(
      _ name: String, _ flag: String, kind: Kind = .value, shown: String = "", _ doc: String,
      blankIsUnset: Bool = true, installer: Bool = false, read: Reader?
    ) {
      self.name = name
      self.flag = flag
      self.kind = kind
      self.defaultValue = shown
      self.doc = doc
      self.read = read
      self.blankIsUnset = blankIsUnset
      self.isInstallerSetting = installer
    }

    /// What comfy-init consumes and no child (git, pip, the server, its custom nodes) gets.
    public var isWithheld: Bool { kind == .secret || kind == .secretPath }
  }

  /// Config's defaults, for --help: the fields' initial values are the one place they are written.
  private static let defaults = Config()

  public static let variables: [Variable] = [
    Variable("COMFYUI_HOME", "--home", shown: defaults.home, "ComfyUI in HOME/ComfyUI") { v, c throws(InitError) in
      c.home = try absolutePath(v, "COMFYUI_HOME", example: "/opt/comfyui")
    },
    Variable(
      "COMFYUI_STATE_DIR", "--state-dir", shown: "HOME/.comfy-init",
      "what a start writes (lock, status, stamps, login/ in the image): one writable mount"
    ) { v, c throws(InitError) in c.stateDir = try absolutePath(v, "COMFYUI_STATE_DIR", example: "/run/comfy-init") },
    Variable("COMFYUI_REPO", "--repo", shown: "upstream ComfyUI", "the repository to clone") { v, c throws(InitError) in
      c.repo = try validateURL(v.trimmingWhitespace(), variable: "COMFYUI_REPO")
    },
    Variable("COMFYUI_REF", "--ref", shown: defaults.ref, "a tag, branch or commit of it") { v, c throws(InitError) in
      c.ref = try validateRef(v.trimmingWhitespace(), variable: "COMFYUI_REF")
    },
    Variable("COMFYUI_VENV", "--venv", shown: "HOME/venv", "the Python venv") { v, c throws(InitError) in
      c.venv = try absolutePath(v, "COMFYUI_VENV", example: "/opt/comfyui/venv")
    },
    Variable(
      "COMFYUI_PIP_EXTRA", "--pip-extra", shown: defaults.pipExtra.joined(separator: ","),
      "extra requirements, comma or space separated", blankIsUnset: false
    ) { v, c throws(InitError) in c.pipExtra = try pipRequirements(v) },
    Variable("COMFYUI_CUSTOM_NODES", "--custom-nodes", "URL[@REF], comma or newline separated") {
      v, c throws(InitError) in c.customNodes = try customNodes(v)
    },
    Variable("COMFYUI_LOGIN_REPO", "--login-repo", shown: "liusida/ComfyUI-Login", "the login node") {
      v, c throws(InitError) in
      c.loginRepo = try validateURL(v.trimmingWhitespace(), variable: "COMFYUI_LOGIN_REPO")
      // The pinned commit belongs to the default repository: another one (a fork, a mirror) may not
      // have it, and gets its default branch unless COMFYUI_LOGIN_REF (the next row) pins it.
      if c.loginRepo != defaultLoginRepo { c.loginRef = nil }
    },
    Variable(
      "COMFYUI_LOGIN_REF", "--login-ref", shown: "a pinned commit",
      "pinned for the default repository only; another one gets its default branch"
    ) { v, c throws(InitError) in c.loginRef = try validateRef(v.trimmingWhitespace(), variable: "COMFYUI_LOGIN_REF") },
    // Before COMFYUI_AUTH: the legacy switch decides only when the next row does not.
    Variable("COMFYUI_LOGIN_ENABLED", "--login-enabled", "legacy: true/false for COMFYUI_AUTH") {
      v, c throws(InitError) in c.auth = try bool(v, variable: "COMFYUI_LOGIN_ENABLED") ? .login : .none
    },
    choice("COMFYUI_AUTH", "--auth", \.auth, "login or none"),
    Variable(
      "COMFYUI_USERNAME", "--username", shown: defaults.username, "line 2 of login/PASSWORD", blankIsUnset: false
    ) { v, c throws(InitError) in
      guard !v.isEmpty, !v.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
        throw InitError(.config, "COMFYUI_USERNAME must be one non-empty line (it is line 2 of login/PASSWORD)")
      }
      c.username = v
    },
    boolean(
      "COMFYUI_GUEST_MODE", "--guest-mode", \.guestMode,
      "1 keeps (or makes) login/GUEST_MODE: guests get in; else it is removed"),
    // The credential: SuppliedCredential reads whichever one is set, after the walk.
    Variable("COMFYUI_PASSWORD", "--password", kind: .secret, "the password (prefer COMFYUI_PASSWORD_FILE)", read: nil),
    Variable("COMFYUI_PASSWORD_FILE", "--password-file", kind: .secretPath, "a file holding the password", read: nil),
    Variable("COMFYUI_PASSWORD_HASH", "--password-hash", kind: .secret, "a bcrypt hash, written verbatim", read: nil),
    Variable(
      "COMFYUI_PASSWORD_HASH_FILE", "--password-hash-file", kind: .secretPath, "a file holding the hash", read: nil),
    Variable(
      "COMFYUI_LISTEN", "--listen", shown: defaults.listen,
      "where clients connect: the gate's (auth on) or the server's"
    ) { v, c throws(InitError) in
      let listen = v.trimmingWhitespace()
      guard listen.allSatisfy({ $0.isLetter || $0.isNumber || ".:,-[]%".contains($0) }) else {
        throw InitError(.config, "COMFYUI_LISTEN='\(listen)' is not an address list; use e.g. 0.0.0.0 or 127.0.0.1,::1")
      }
      c.listen = listen
    },
    port("COMFYUI_PORT", "--port", \.port, "the published port: the gate's (auth on) or the server's"),
    port(
      "COMFYUI_INTERNAL_PORT", "--internal-port", \.gate.internalPort,
      "with auth on: ComfyUI's own port, on 127.0.0.1 only (the gate has COMFYUI_PORT)"),
    Variable("COMFYUI_GATEWAY", "--gateway", shown: "beside comfy-init", "the comfy-gateway binary (the gate)") {
      v, c throws(InitError) in
      let binary = v.trimmingWhitespace()
      guard binary.hasPrefix("/") else {
        throw InitError(.config, "COMFYUI_GATEWAY='\(binary)' must be an absolute path to comfy-gateway")
      }
      c.gate.binary = binary
    },
    Variable("COMFYUI_TLS_CERT", "--tls-cert", "PEM certificate chain: the gate serves HTTPS") { v, c in
      c.gate.tlsCert = v.trimmingWhitespace()
    },
    Variable("COMFYUI_TLS_KEY", "--tls-key", kind: .secretPath, "its PEM private key") { v, c in
      c.gate.tlsKey = v.trimmingWhitespace()
    },
    Variable(
      "COMFYUI_TRUSTED_PROXIES", "--trusted-proxies",
      "addresses or CIDR ranges whose X-Forwarded-For/-Proto the gate believes"
    ) { v, c throws(InitError) in
      for proxy in v.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
        guard proxy.allSatisfy({ $0.isHexDigit || ".:/".contains($0) }), proxy.contains(where: { $0.isNumber }) else {
          throw InitError(
            .config, "COMFYUI_TRUSTED_PROXIES: '\(proxy)' is not an address or CIDR range, e.g. 10.0.0.0/8")
        }
        c.gate.trustedProxies.append(String(proxy))
      }
    },
    Variable(
      "COMFYUI_SESSION_MAX_AGE", "--session-max-age", shown: "\(defaults.gate.sessionMaxAge)",
      "seconds a browser login lasts"
    ) { v, c throws(InitError) in
      guard let seconds = Int(v.trimmingWhitespace()), seconds >= 60 else {
        throw InitError(
          .config, "COMFYUI_SESSION_MAX_AGE='\(v)' is not a number of seconds of 60 or more, e.g. 604800")
      }
      c.gate.sessionMaxAge = seconds
    },
    // After COMFYUI_AUTH: which server flags are refused depends on it.
    Variable("COMFYUI_ARGS", "--args", "more server flags, split like a shell would", blankIsUnset: false) {
      v, c throws(InitError) in
      do {
        c.serverArgs = try ShellWords.split(v)
      } catch {
        throw InitError(.config, "COMFYUI_ARGS has \(error); close it or escape it with a backslash")
      }
      try ServerFlags.validate(c.serverArgs, auth: c.auth, source: "COMFYUI_ARGS")
    },
    boolean("COMFYUI_UPDATE", "--update", \.update, "1 moves a checkout at another ref (changes stashed)"),
    boolean("COMFYUI_OFFLINE", "--offline", \.offline, "never touch the network"),
    Variable(
      "COMFYUI_STOP_TIMEOUT", "--stop-timeout", shown: seconds(defaults.stopTimeout),
      "seconds from the stop signal to SIGKILL"
    ) { v, c throws(InitError) in
      guard let seconds = Double(v.trimmingWhitespace()), seconds >= 0, seconds <= 3600 else {
        throw InitError(.config, "COMFYUI_STOP_TIMEOUT='\(v)' is not a number of seconds from 0 to 3600, e.g. 8")
      }
      c.stopTimeout = seconds
    },
    Variable(
      "COMFYUI_STOP_SIGNAL", "--stop-signal", shown: Signals.name(defaults.stopSignal),
      "what SIGTERM becomes for the server"
    ) { v, c throws(InitError) in
      guard let number = Signals.number(named: v) else {
        throw InitError(.config, "COMFYUI_STOP_SIGNAL='\(v)' is not a signal name; use SIGINT or SIGTERM")
      }
      c.stopSignal = number
    },
    choice("COMFYUI_INIT", "--init", \.initMode, "supervise or exec (exec only without auth)"),
    choice("COMFYUI_INSTALLER", "--installer", \.installer.choice, "auto (uv when on PATH), pip or uv"),
    boolean(
      "COMFYUI_REDACT_LOGS", "--redact-logs", \.redactLogs, kind: .value, "cut the token and password out of the log"),
    Variable("COMFYUI_MODELS_MANIFEST", "--models-manifest", "lines `SOURCE DEST [SHA256]`, DEST in models/") { v, c in
      c.modelsManifest = v
    },
    boolean("COMFYUI_SKIP_MODELS", "--skip-models", \.skipModels, "download no models"),
    number(
      "COMFYUI_DOWNLOAD_CONCURRENCY", "--download-concurrency", \.downloadConcurrency, 1...16,
      "downloads at once, 1 to 16"),
    number(
      "COMFYUI_DOWNLOAD_CONNECTIONS", "--download-connections", \.downloadConnections, 1...32,
      "ranged connections per large file, 1 to 32"),
    number(
      "COMFYUI_DOWNLOAD_PIECE_MB", "--download-piece-mb", \.downloadPieceMiB, 1...1024,
      "MiB per ranged request, 1 to 1024"),
    Variable("HF_ENDPOINT", "--hf-endpoint", shown: defaults.hfEndpoint, "where hf:// sources resolve") {
      v, c throws(InitError) in c.hfEndpoint = try endpoint(v, variable: "HF_ENDPOINT")
    },
    Variable(
      "COMFYUI_CIVITAI_ENDPOINT", "--civitai-endpoint", shown: defaults.civitaiEndpoint,
      "where civitai:// sources resolve"
    ) { v, c throws(InitError) in c.civitaiEndpoint = try endpoint(v, variable: "COMFYUI_CIVITAI_ENDPOINT") },
    Variable("COMFYUI_TOKEN_HOSTS", "--token-hosts", "more hosts that get the Hugging Face token") { v, c in
      for host in v.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
        var name = Substring(host.lowercased())
        while name.hasPrefix(".") { name = name.dropFirst() }
        if !name.isEmpty { c.tokenHosts.append(String(name)) }
      }
    },
    // The Hugging Face token: HubToken reads the first one set, after the walk.
    Variable("HF_TOKEN", "--hf-token", kind: .secret, "the Hugging Face token (HTTPS to its hosts only)", read: nil),
    Variable("HF_TOKEN_FILE", "--hf-token-file", kind: .secretPath, "a file holding it", read: nil),
    Variable("HF_API_TOKEN", "--hf-api-token", kind: .secret, "the same, older name", read: nil),
    Variable(
      "CIVITAI_TOKEN", "--civitai-token", kind: .secret, "the CivitAI token (HTTPS to its host only)", read: nil),
    Variable("CIVITAI_TOKEN_FILE", "--civitai-token-file", kind: .secretPath, "a file holding it", read: nil),
    Variable("CURL_CA_BUNDLE", "--curl-ca-bundle", shown: "the distribution's", "CA bundle for HTTPS (wins)") {
      v, c in c.caBundle = v
    },
    Variable("SSL_CERT_FILE", "--ssl-cert-file", shown: "the distribution's", "CA bundle for HTTPS") { v, c in
      if c.caBundle == nil { c.caBundle = v }
    },
    Variable("PUID", "--puid", "started as root: hand the home to this user and run as it") {
      v, c throws(InitError) in
      guard let id = UInt32(v.trimmingWhitespace()) else {
        throw InitError(.config, "PUID='\(v)' is not a numeric user id, e.g. 1000")
      }
      c.puid = id
    },
    Variable("PGID", "--pgid", shown: "PUID", "its group") { v, c throws(InitError) in
      guard let id = UInt32(v.trimmingWhitespace()) else {
        throw InitError(.config, "PGID='\(v)' is not a numeric group id, e.g. 1000")
      }
      c.pgid = id
    },
    Variable(
      "COMFYUI_TORCH_INDEX_URL", "--torch-index-url",
      "torch, torchvision, torchaudio from this index only (a CUDA variant)"
    ) { v, c in c.installer.torchIndexURL = v.trimmingWhitespace() },
    installer("PIP_INDEX_URL", "pip's index (uv gets it as --index-url)") { v, c in c.installer.pipIndexURL = v },
    installer("PIP_EXTRA_INDEX_URL", "more indexes (uv: --extra-index-url)") { v, c in
      c.installer.pipExtraIndexURLs = v.split(separator: " ").map(String.init)
    },
    installer("PIP_FIND_LINKS", "wheel folders (uv: --find-links)") { v, c in
      c.installer.pipFindLinks = v.split(separator: " ").map(String.init)
    },
    installer("PIP_NO_INDEX", "a boolean: no index (uv: --no-index)") { v, c throws(InitError) in
      c.installer.pipNoIndex = try bool(v, variable: "PIP_NO_INDEX")
    },
    installer("PIP_PRE", "pip's own; covered by the venv's fingerprint"),
    installer("PIP_CONSTRAINT", "pip's own; covered by the fingerprint"),
    installer("PIP_ONLY_BINARY", "pip's own; covered by the fingerprint"),
    installer("PIP_NO_BINARY", "pip's own; covered by the fingerprint"),
    installer("UV_INDEX_URL", "uv's own; wins over PIP_INDEX_URL") { _, c in c.installer.uvSetsIndex = true },
    installer("UV_DEFAULT_INDEX", "uv's own; wins over PIP_INDEX_URL") { _, c in c.installer.uvSetsIndex = true },
    installer("UV_EXTRA_INDEX_URL", "uv's own; wins over PIP_EXTRA_INDEX_URL") { _, c in
      c.installer.uvSetsExtraIndex = true
    },
    installer("UV_INDEX", "uv's own; covered by the fingerprint"),
    installer("UV_FIND_LINKS", "uv's own; wins over PIP_FIND_LINKS") { _, c in c.installer.uvSetsFindLinks = true },
    installer("UV_NO_INDEX", "uv's own; covered by the fingerprint"),
    installer("UV_PRERELEASE", "uv's own; covered by the fingerprint"),
    installer("UV_CONSTRAINT", "uv's own; covered by the fingerprint"),
  ]

  /// A PIP_*/UV_* row: its value, as written and even when blank, goes into the venv's fingerprint
  /// (InstallerSettings.values); `then` reads a value that is not blank.
  private static func installer(_ name: String, _ doc: String, then: Variable.Reader? = nil) -> Variable {
    let flag = "--" + String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    return Variable(name, flag, doc, blankIsUnset: false, installer: true) { v, c throws(InitError) in
      c.installer.values[name] = v
      if let then, !v.trimmingWhitespace().isEmpty { try then(v, &c) }
    }
  }

  /// The names of every variable comfy-init reads.
  public static let knownVariables: Set<String> = Set(variables.map(\.name))

  /// The variable a flag sets: `--stop-timeout`, also written `--STOP_TIMEOUT`.
  public static func variable(forFlag name: String) -> Variable? {
    let flag = "--" + String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    return variables.first { $0.flag == flag }
  }

  /// The variables for `comfy-init --help`: one line each, NAME  --flag  (default)  what it does.
  static var helpLines: String {
    let nameWidth = variables.map(\.name.count).max() ?? 0
    let flagWidth = variables.map(\.flag.count).max() ?? 0
    func pad(_ text: String, _ width: Int) -> String {
      text + String(repeating: " ", count: max(0, width - text.count))
    }
    return variables.map { v in
      let flag = v.kind == .secret ? "(no flag)" : v.flag
      let shown = v.defaultValue.isEmpty ? "" : "(\(v.defaultValue)) "
      return "  " + pad(v.name, nameWidth) + "  " + pad(flag, flagWidth) + "  " + shown + v.doc
    }.joined(separator: "\n")
  }

  /// A boolean: one of trueWords or falseWords; a switch unless said otherwise.
  private static func boolean(
    _ name: String, _ flag: String, _ field: WritableKeyPath<Config, Bool>, kind: Variable.Kind = .switch,
    _ doc: String
  ) -> Variable {
    Variable(name, flag, kind: kind, shown: defaults[keyPath: field] ? "1" : "0", doc) { v, c throws(InitError) in
      c[keyPath: field] = try bool(v, variable: name)
    }
  }

  /// A TCP port, 1 to 65535.
  private static func port(_ name: String, _ flag: String, _ field: WritableKeyPath<Config, Int>, _ doc: String)
    -> Variable
  {
    let fallback = defaults[keyPath: field]
    return Variable(name, flag, shown: "\(fallback)", doc) { v, c throws(InitError) in
      c[keyPath: field] = try port(v, name, example: fallback)
    }
  }

  /// A whole number in `range`; the error names the range and the default as an example.
  private static func number(
    _ name: String, _ flag: String, _ field: WritableKeyPath<Config, Int>, _ range: ClosedRange<Int>, _ doc: String
  ) -> Variable {
    let fallback = defaults[keyPath: field]
    return Variable(name, flag, shown: "\(fallback)", doc) { v, c throws(InitError) in
      let text = v.trimmingWhitespace()
      guard let n = Int(text), range.contains(n) else {
        throw InitError(
          .config,
          "\(name)='\(text)' is not a number from \(range.lowerBound) to \(range.upperBound), e.g. \(fallback)")
      }
      c[keyPath: field] = n
    }
  }

  /// One word of an enum's cases, any case: "login or none".
  private static func choice<T: RawRepresentable & CaseIterable>(
    _ name: String, _ flag: String, _ field: WritableKeyPath<Config, T>, _ doc: String
  ) -> Variable where T.RawValue == String {
    let words = T.allCases.map(\.rawValue)
    let list = words.dropLast().joined(separator: ", ") + " or " + words.last!
    return Variable(name, flag, shown: defaults[keyPath: field].rawValue, doc) { v, c throws(InitError) in
      guard let value = T(rawValue: v.trimmingWhitespace().lowercased()) else {
        throw InitError(.config, "\(name)='\(v)' is not valid; use \(list)")
      }
      c[keyPath: field] = value
    }
  }

  /// 8.0 as "8", 2.5 as "2.5".
  private static func seconds(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
  }
}
