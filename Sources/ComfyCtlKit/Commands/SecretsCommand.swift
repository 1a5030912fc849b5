// `comfyctl secrets init|show|rotate|check|k8s|hf-token|civitai-token`.
import ArgumentParser
import Foundation

struct SecretsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "secrets",
    abstract: "The ComfyUI credential: one source, derived files, drift checks.",
    subcommands: [
      SecretsInit.self, SecretsShow.self, SecretsRotate.self, SecretsCheck.self, SecretsKubernetes.self,
      SecretsHFToken.self, SecretsCivitaiToken.self,
    ]
  )
}

struct SecretsHFToken: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: ModelToken.huggingFace.command,
    abstract: "Store the Hugging Face token (gated models) from stdin as .secrets/hf_token; --remove for none.")

  @OptionGroup var options: ProjectOptions
  @Flag(help: "Empty the file: no token.") var remove = false

  func run() throws { try storeModelToken(.huggingFace, project: try options.project(), remove: remove) }
}

struct SecretsCivitaiToken: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: ModelToken.civitai.command,
    abstract: "Store the CivitAI token from stdin as .secrets/civitai_token; --remove for none.")

  @OptionGroup var options: ProjectOptions
  @Flag(help: "Empty the file: no token.") var remove = false

  func run() throws { try storeModelToken(.civitai, project: try options.project(), remove: remove) }
}

/// Reads the token from stdin (never from argv, where `ps` and the shell's history would keep it) and
/// stores it; the containers read the file at their next start.
func storeModelToken(_ token: ModelToken, project: Project, remove: Bool) throws(CtlError) {
  let tokens = ModelTokens(project: project, settings: Settings(project: project))
  let value = remove ? "" : try ModelTokens.parse(ModelTokens.readStandardInput(for: token), for: token)
  try tokens.save(value, for: token)
  let file = relative(tokens.path(token), project)
  Console().say(
    (remove
      ? "secrets: \(file) emptied: no \(token.host) token" : "secrets: the \(token.host) token is in \(file) (0600)")
      + "; running containers read it at their next start (`comfyctl restart`; a swarm: `comfyctl up --swarm`; "
      + "Kubernetes: `comfyctl secrets k8s | kubectl apply -f -`)")
}

struct SecretsInit: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract: "Create the secrets (random password, or one from stdin); an existing source is kept, never rotated.")

  @OptionGroup var options: ProjectOptions
  @Option(help: "The login name.") var username = "admin"
  @Flag(help: "Read the password from stdin instead of generating one (never pass it as an argument).")
  var passwordStdin = false

  func run() throws {
    let project = try options.project()
    try initializeSecrets(project: project, username: username, passwordStdin: passwordStdin, console: Console())
  }
}

struct SecretsShow: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Print the username and the API bearer token (the bcrypt hash).")

  @OptionGroup var options: ProjectOptions
  @Flag(help: "Print only the token, for scripts: TOKEN=$(comfyctl secrets show --token).") var token = false
  @Flag(help: "Print only the password, for the /login form.") var password = false

  func run() throws {
    let credential = try SecretsStore(project: try options.project()).load()
    if token && password { throw CtlError(.badInput, "--token and --password each print one secret; pick one") }
    if token {
      print(credential.hash)
    } else if password {
      print(credential.password)
    } else {
      print("username: \(credential.username)")
      print("token:    \(credential.hash)")
      print("(send it as `Authorization: Bearer <token>`; the login password: comfyctl secrets show --password)")
    }
  }
}

struct SecretsRotate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rotate", abstract: "New password and hash; every derived file refreshed; --restart applies it now.")

  @OptionGroup var options: ProjectOptions
  @Flag(help: "Restart the running stack so the server uses the new token at once.") var restart = false
  @Flag(help: "Read the new password from stdin instead of generating one.") var passwordStdin = false
  @Option(help: "Seconds to wait for healthy after the restart.") var waitTimeout: Double = 300

  func run() throws {
    let project = try options.project()
    let store = SecretsStore(project: project)
    let stack = try Stack.open(project: project)  // a bad project name stops us before anything rotates
    let username = try store.usernameForRotation()
    let old = try? store.load()
    let password = passwordStdin ? try SecretsStore.readPasswordFromStandardInput() : nil
    let credential = try SecretsStore.makeCredential(username: username, password: password)
    try store.save(credential)
    try DerivedSecrets(project: project, settings: stack.settings).write(credential)
    let console = Console()
    console.say("secrets: rotated; \(relative(project.hashFile, project)) and the tokens in .env are refreshed")
    let running = stack.engine.runningContainers()
    if running.isEmpty {
      console.say("secrets: the stack is not running; the new token applies at the next `comfyctl up`")
    } else if restart {
      // A browser session opened with the old password must not outlive the rotation (the gate signs
      // sessions with a key tied to the password hash): one is opened now and tried after the restart.
      let sessions = old.map { SessionProbe.open(stack: stack, credential: $0) } ?? []
      let services = try stack.restartRunning(timeout: waitTimeout, console: console)
      try SessionProbe.requireEnded(sessions)
      console.say(
        "secrets: restarted \(services.joined(separator: ", ")); the server accepts only the new token now"
          + (sessions.isEmpty ? "" : ", and every earlier browser session has ended"))
    } else {
      console.say(
        "secrets: restart needed: the running server still accepts only the old token; run `comfyctl restart`")
    }
  }
}

struct SecretsCheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "List every place that disagrees with the source, and secret files others can read (exit 1 on any).")

  @OptionGroup var options: ProjectOptions

  func run() throws {
    let project = try options.project()
    let credential = try SecretsStore(project: project).load()
    let stack = try Stack.open(project: project)
    var items = DerivedSecrets(project: project, settings: stack.settings).check(credential)
    items += ModelTokens(project: project, settings: stack.settings).check()
    items += serverItems(stack: stack, credential: credential)
    for item in items { print("\(item.ok ? "ok   " : "DRIFT") \(item.place): \(item.detail)") }
    let drift = items.filter { !$0.ok }.count
    guard drift == 0 else {
      throw CtlError(
        .checkFailed,
        "\(drift) check(s) failed; each row says how to fix it (`comfyctl secrets init` rewrites the derived "
          + "files, `comfyctl restart` reloads the server)"
      )
    }
  }

  /// A running server must accept the source's token (it reads login/PASSWORD only at start).
  private func serverItems(stack: Stack, credential: Credential) -> [DriftItem] {
    stack.engine.runningContainers().compactMap { container in
      guard let instance = stack.instance(for: container.service) else { return nil }
      let place = "running \(container.service)"
      guard let status = ComfyAPI(baseURL: stack.settings.url(of: instance), token: credential.hash).checkToken() else {
        return DriftItem(place: place, ok: true, detail: "not answering yet; cannot compare")
      }
      if status == 200 { return DriftItem(place: place, ok: true, detail: "accepts the token") }
      return DriftItem(
        place: place, ok: false, detail: "answers \(status) to the token: it runs with an older one; `comfyctl restart`"
      )
    }
  }
}

struct SecretsKubernetes: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "k8s",
    abstract:
      "Print the credential (the hash only) and the model hosts' tokens as Kubernetes Secrets for `kubectl apply -f -`."
  )

  @OptionGroup var options: ProjectOptions
  @Option(help: "The Secret's name (the one kubernetes/base mounts).") var name = KubernetesSecret.defaultName
  @Option(help: "The namespace (the one kubernetes/base uses).") var namespace = KubernetesSecret.defaultNamespace

  func run() throws {
    let project = try options.project()
    let credential = try SecretsStore(project: project).load()
    let tokens = ModelTokens(project: project, settings: Settings(project: project))
    var values: [ModelToken: String] = [:]
    for token in ModelToken.allCases { values[token] = try tokens.value(token) }
    print(try KubernetesSecret.manifest(credential, name: name, namespace: namespace), terminator: "")
    print("---")
    print(try KubernetesSecret.tokensManifest(values, namespace: namespace), terminator: "")
  }
}

/// Browser sessions opened before a rotation, to prove the restart ended them.
enum SessionProbe {
  struct Opened {
    var url: String
    var cookie: String
  }

  /// Logs in with `credential` on every instance that answers; a failed login is left out.
  static func open(stack: Stack, credential: Credential) -> [Opened] {
    stack.engine.runningContainers().compactMap { container -> Opened? in
      guard let instance = stack.instance(for: container.service) else { return nil }
      let url = stack.settings.url(of: instance)
      let probe = AuthProbe(baseURL: url)
      let login = probe.post(url + "/login", form: ["username": credential.username, "password": credential.password])
      let cookie = login.response.map(AuthProbe.cookieHeader) ?? ""
      return cookie.isEmpty ? nil : Opened(url: url, cookie: cookie)
    }
  }

  static func requireEnded(_ sessions: [Opened]) throws(CtlError) {
    for session in sessions {
      let answer = AuthProbe(baseURL: session.url).get(session.url + "/queue", headers: [("Cookie", session.cookie)])
      if let status = answer.response?.status, status != 401 {
        throw CtlError(
          .authNotEnforced,
          "a browser session opened before the rotation still gets \(status) from GET /queue at \(session.url); run `comfyctl down` and check the image's comfy-gateway"
        )
      }
    }
  }
}
