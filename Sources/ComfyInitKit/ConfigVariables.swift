// Every variable comfy-init reads, with its flag, its default and one line of documentation: the one
// table that `Config.applyFlags`, `knownVariables`, `comfy-init --help`, README's table and a test
// (ConfigTests) all follow. A new variable is a row here, a line in `Config.load`, and a row in README.

extension Config {
  public struct Variable: Sendable {
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

    public let name: String
    public let flag: String
    public let kind: Kind
    /// As --help and README show it; empty when unset by default.
    public let defaultValue: String
    public let doc: String

    init(_ name: String, _ flag: String, _ kind: Kind = .value, _ defaultValue: String = "", _ doc: String) {
      self.name = name
      self.flag = flag
      self.kind = kind
      self.defaultValue = defaultValue
      self.doc = doc
    }

    /// What comfy-init consumes and no child (git, pip, the server, its custom nodes) gets.
    public var isWithheld: Bool { kind == .secret || kind == .secretPath }
  }

  public static let variables: [Variable] = [
    Variable("COMFYUI_HOME", "--home", .value, "/opt/comfyui", "ComfyUI in HOME/ComfyUI"),
    Variable(
      "COMFYUI_STATE_DIR", "--state-dir", .value, "HOME/.comfy-init",
      "what a start writes (lock, status, stamps, login/ in the image): one writable mount"),
    Variable("COMFYUI_REPO", "--repo", .value, "upstream ComfyUI", "the repository to clone"),
    Variable("COMFYUI_REF", "--ref", .value, Config.defaultRef, "a tag, branch or commit of it"),
    Variable("COMFYUI_VENV", "--venv", .value, "HOME/venv", "the Python venv"),
    Variable("COMFYUI_PIP_EXTRA", "--pip-extra", .value, "einops", "extra requirements, comma or space separated"),
    Variable("COMFYUI_CUSTOM_NODES", "--custom-nodes", .value, "", "URL[@REF], comma or newline separated"),
    Variable("COMFYUI_LOGIN_REPO", "--login-repo", .value, "liusida/ComfyUI-Login", "the login node"),
    Variable(
      "COMFYUI_LOGIN_REF", "--login-ref", .value, "a pinned commit",
      "pinned for the default repository only; another one gets its default branch"),
    Variable("COMFYUI_AUTH", "--auth", .value, "login", "login or none"),
    Variable("COMFYUI_LOGIN_ENABLED", "--login-enabled", .value, "", "legacy: true/false for COMFYUI_AUTH"),
    Variable("COMFYUI_USERNAME", "--username", .value, "admin", "line 2 of login/PASSWORD"),
    Variable(
      "COMFYUI_GUEST_MODE", "--guest-mode", .switch, "0",
      "1 keeps (or makes) login/GUEST_MODE: guests get in; else it is removed"),
    Variable("COMFYUI_PASSWORD", "--password", .secret, "", "the password (prefer COMFYUI_PASSWORD_FILE)"),
    Variable("COMFYUI_PASSWORD_FILE", "--password-file", .secretPath, "", "a file holding the password"),
    Variable("COMFYUI_PASSWORD_HASH", "--password-hash", .secret, "", "a bcrypt hash, written verbatim"),
    Variable("COMFYUI_PASSWORD_HASH_FILE", "--password-hash-file", .secretPath, "", "a file holding the hash"),
    Variable(
      "COMFYUI_LISTEN", "--listen", .value, "0.0.0.0", "where clients connect: the gate's (auth on) or the server's"),
    Variable("COMFYUI_PORT", "--port", .value, "8188", "the published port: the gate's (auth on) or the server's"),
    Variable(
      "COMFYUI_INTERNAL_PORT", "--internal-port", .value, "18188",
      "with auth on: ComfyUI's own port, on 127.0.0.1 only (the gate has COMFYUI_PORT)"),
    Variable("COMFYUI_GATEWAY", "--gateway", .value, "beside comfy-init", "the comfy-gateway binary (the gate)"),
    Variable("COMFYUI_TLS_CERT", "--tls-cert", .value, "", "PEM certificate chain: the gate serves HTTPS"),
    Variable("COMFYUI_TLS_KEY", "--tls-key", .secretPath, "", "its PEM private key"),
    Variable(
      "COMFYUI_TRUSTED_PROXIES", "--trusted-proxies", .value, "",
      "addresses or CIDR ranges whose X-Forwarded-For/-Proto the gate believes"),
    Variable("COMFYUI_SESSION_MAX_AGE", "--session-max-age", .value, "604800", "seconds a browser login lasts"),
    Variable("COMFYUI_ARGS", "--args", .value, "", "more server flags, split like a shell would"),
    Variable("COMFYUI_UPDATE", "--update", .switch, "0", "1 moves a checkout at another ref (changes stashed)"),
    Variable("COMFYUI_OFFLINE", "--offline", .switch, "0", "never touch the network"),
    Variable("COMFYUI_STOP_TIMEOUT", "--stop-timeout", .value, "8", "seconds from the stop signal to SIGKILL"),
    Variable("COMFYUI_STOP_SIGNAL", "--stop-signal", .value, "SIGINT", "what SIGTERM becomes for the server"),
    Variable("COMFYUI_INIT", "--init", .value, "supervise", "supervise or exec (exec only without auth)"),
    Variable("COMFYUI_INSTALLER", "--installer", .value, "auto", "auto (uv when on PATH), pip or uv"),
    Variable("COMFYUI_REDACT_LOGS", "--redact-logs", .value, "1", "cut the token and password out of the log"),
    Variable("COMFYUI_MODELS_MANIFEST", "--models-manifest", .value, "", "lines `URL DEST SHA256`, DEST in models/"),
    Variable("COMFYUI_SKIP_MODELS", "--skip-models", .switch, "0", "download no models"),
    Variable("COMFYUI_DOWNLOAD_CONCURRENCY", "--download-concurrency", .value, "3", "downloads at once, 1 to 16"),
    Variable("COMFYUI_TOKEN_HOSTS", "--token-hosts", .value, "", "more hosts that get the Hugging Face token"),
    Variable("HF_TOKEN", "--hf-token", .secret, "", "the Hugging Face token (HTTPS to its hosts only)"),
    Variable("HF_TOKEN_FILE", "--hf-token-file", .secretPath, "", "a file holding it"),
    Variable("HF_API_TOKEN", "--hf-api-token", .secret, "", "the same, older name"),
    Variable("CURL_CA_BUNDLE", "--curl-ca-bundle", .value, "the distribution's", "CA bundle for HTTPS (wins)"),
    Variable("SSL_CERT_FILE", "--ssl-cert-file", .value, "the distribution's", "CA bundle for HTTPS"),
    Variable("PUID", "--puid", .value, "", "started as root: hand the home to this user and run as it"),
    Variable("PGID", "--pgid", .value, "PUID", "its group"),
    Variable(
      "COMFYUI_TORCH_INDEX_URL", "--torch-index-url", .value, "",
      "torch, torchvision, torchaudio from this index only (a CUDA variant)"),
    Variable("PIP_INDEX_URL", "--pip-index-url", .value, "", "pip's index (uv gets it as --index-url)"),
    Variable("PIP_EXTRA_INDEX_URL", "--pip-extra-index-url", .value, "", "more indexes (uv: --extra-index-url)"),
    Variable("PIP_FIND_LINKS", "--pip-find-links", .value, "", "wheel folders (uv: --find-links)"),
    Variable("PIP_NO_INDEX", "--pip-no-index", .value, "", "a boolean: no index (uv: --no-index)"),
    Variable("PIP_PRE", "--pip-pre", .value, "", "pip's own; covered by the venv's fingerprint"),
    Variable("PIP_CONSTRAINT", "--pip-constraint", .value, "", "pip's own; covered by the fingerprint"),
    Variable("PIP_ONLY_BINARY", "--pip-only-binary", .value, "", "pip's own; covered by the fingerprint"),
    Variable("PIP_NO_BINARY", "--pip-no-binary", .value, "", "pip's own; covered by the fingerprint"),
    Variable("UV_INDEX_URL", "--uv-index-url", .value, "", "uv's own; wins over PIP_INDEX_URL"),
    Variable("UV_DEFAULT_INDEX", "--uv-default-index", .value, "", "uv's own; wins over PIP_INDEX_URL"),
    Variable("UV_EXTRA_INDEX_URL", "--uv-extra-index-url", .value, "", "uv's own; wins over PIP_EXTRA_INDEX_URL"),
    Variable("UV_INDEX", "--uv-index", .value, "", "uv's own; covered by the fingerprint"),
    Variable("UV_FIND_LINKS", "--uv-find-links", .value, "", "uv's own; wins over PIP_FIND_LINKS"),
    Variable("UV_NO_INDEX", "--uv-no-index", .value, "", "uv's own; covered by the fingerprint"),
    Variable("UV_PRERELEASE", "--uv-prerelease", .value, "", "uv's own; covered by the fingerprint"),
    Variable("UV_CONSTRAINT", "--uv-constraint", .value, "", "uv's own; covered by the fingerprint"),
  ]

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
}
