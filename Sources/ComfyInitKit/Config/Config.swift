// The effective configuration: one typed field per variable of the table (Variables.swift), each
// field's initial value its default. Config.load (ConfigLoader.swift) fills it from the environment
// and the flags; Config is the only reader of the environment, and what children get is computed
// there too (childEnvironment).
#if canImport(Glibc)
  import Glibc
#endif

public enum AuthMode: String, CaseIterable, Sendable { case login, none }
public enum InitMode: String, CaseIterable, Sendable { case supervise, exec }

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
  /// COMFYUI_VENV and COMFYUI_STATE_DIR: "" until load() sets them (HomeLayout has their defaults).
  public var venv = ""
  public var stateDir = ""
  public var pipExtra = ["einops"]
  public var customNodes: [CustomNode] = []
  public var loginRepo = Config.defaultLoginRepo
  public var loginRef: String? = Config.defaultLoginRef
  public var auth = AuthMode.login
  public var username = "admin"
  /// COMFYUI_GUEST_MODE: ComfyUI-Login's guest switch (login/GUEST_MODE) stays; else it is removed.
  public var guestMode = false
  /// The credential COMFYUI_PASSWORD* supplies (SuppliedCredential reads it); nil: login/PASSWORD decides.
  public var credential: SuppliedCredential? = nil
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
  /// CIVITAI_TOKEN or CIVITAI_TOKEN_FILE, for the CivitAI endpoint's host.
  public var civitaiToken = HubToken.none
  /// HF_ENDPOINT (huggingface_hub's variable): where hf:// sources resolve, without a trailing slash.
  public var hfEndpoint = "https://huggingface.co"
  /// COMFYUI_CIVITAI_ENDPOINT: where civitai:// sources resolve.
  public var civitaiEndpoint = "https://civitai.com"
  /// COMFYUI_DOWNLOAD_CONNECTIONS: ranged connections per large file.
  public var downloadConnections = 8
  /// COMFYUI_DOWNLOAD_PIECE_MB: the size of one ranged request (aria2's -k); files under two pieces
  /// go over one connection.
  public var downloadPieceMiB = 32
  /// CURL_CA_BUNDLE, else SSL_CERT_FILE: the CA bundle comfy-init's HTTPS checks servers against (nil:
  /// the distribution's). Children get both variables as they are.
  public var caBundle: String? = nil
  /// What every child (git, pip, the server) gets: the environment with the flags applied, less what
  /// comfy-init consumes (the credential, the Hub token, and where they are kept).
  public var childEnvironment: [String: String] = [:]

  public init() {}

  /// Every path under the home, the venv and the state folder.
  public var layout: HomeLayout {
    HomeLayout(home: home, venv: venv.isEmpty ? nil : venv, stateDir: stateDir.isEmpty ? nil : stateDir)
  }

  /// PUID:PGID (PGID defaults to PUID), nil without PUID.
  public var owner: (uid: uid_t, gid: gid_t)? { puid.map { ($0, pgid ?? gid_t($0)) } }

  /// HOME and the temporary folder children get: the inherited ones until
  /// Bootstrap.giveChildrenWritablePlaces finds them not writable and sets others.
  public internal(set) var childHome: String? {
    get { childEnvironment["HOME"] }
    set { childEnvironment["HOME"] = newValue }
  }
  public var childTempDir: String {
    ["TMPDIR", "TEMP", "TMP"].lazy.compactMap { childEnvironment[$0] }.first ?? "/tmp"
  }
  mutating func setChildTempDir(_ path: String) { childEnvironment["TMPDIR"] = path }

  /// Where tools are looked for: the PATH children get.
  public var searchPath: String { childEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin" }

  /// The server's environment: the children's, with Python's output unbuffered (a pipe's output is
  /// buffered otherwise, and the container log would lag behind the server).
  public var serverEnvironment: [String: String] {
    var env = childEnvironment
    if env["PYTHONUNBUFFERED"] == nil { env["PYTHONUNBUFFERED"] = "1" }
    return env
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
    if auth == .login { parts.append("user=\(username) credential=\(credential?.source ?? "none")") }
    if !pipExtra.isEmpty { parts.append("extra=\(pipExtra.joined(separator: ","))") }
    if !customNodes.isEmpty { parts.append("nodes=\(customNodes.map(\.name).joined(separator: ","))") }
    if !serverArgs.isEmpty { parts.append("args=\(serverArgs.count)") }
    if update { parts.append("update=1") }
    if offline { parts.append("offline=1") }
    return parts.joined(separator: " ")
  }
}
