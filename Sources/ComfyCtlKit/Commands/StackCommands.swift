// `comfyctl restart`, `status`, `logs`, `down`: the running stack, all instances at once.
import ArgumentParser
import Foundation

struct RestartCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "restart",
    abstract: "Restart the running services (the server rereads the secret) and wait until healthy.")

  @OptionGroup var options: ProjectOptions
  @Option(help: "Seconds to wait for healthy.") var waitTimeout: Double = 300

  func run() throws {
    let stack = try Stack.open(project: try options.project())
    try Prerequisites.checkEngine()
    let services = try stack.restartRunning(timeout: waitTimeout, console: Console())
    if services.isEmpty { throw CtlError(.containerFailed, "nothing is running; start it with `comfyctl up`") }
  }
}

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Containers, health and URLs of the stack.")

  @OptionGroup var options: ProjectOptions

  func run() throws {
    let stack = try Stack.open(project: try options.project())
    try Prerequisites.checkEngine()
    let containers = try stack.engine.containers()
    print("project \(stack.engine.name) (\(stack.project.root))")
    if let summary = stack.engine.summary { print(summary) }
    printVersions(image: stack.settings.image)
    for line in stack.engine.describeMissing(containers) { print(line) }
    guard !containers.isEmpty else { return }
    for container in containers {
      let state = try? Docker.state(of: container.id)
      let health = state.map { $0.health.isEmpty ? "" : " \($0.health)" } ?? ""
      let url = stack.instance(for: container.service).map { "  " + stack.settings.url(of: $0) } ?? ""
      print("\(container.service): \(container.state)\(health)\(url)")
      if let detail = state?.lastHealthOutput, !detail.isEmpty { print("  last check: \(detail)") }
      // Not healthy yet: what comfy-init says right now, with the models phase's progress while it runs.
      if container.state == "running", state?.health != "healthy" {
        let now = Docker.liveProgress(of: container.id).progress
        if let verdict = now.verdict, verdict != state?.lastHealthOutput { print("  now: \(verdict)") }
        if now.hasDetail { print("  provisioning: \(now.summary)") }
      }
    }
  }
}

/// comfyctl's version beside the image's (its OCI labels, from the comfy-init inside): an image built by
/// another release may not understand this comfyctl's compose files or secrets, so a difference warns.
func printVersions(image: String) {
  let own = InitBinary.current
  print("comfyctl \(own.description)")
  guard let inImage = InitBinary.ofImage(image) else {
    print("image \(image): no version labels (not built yet, or built before images carried them)")
    return
  }
  print("image \(image): comfy-init \(inImage.description)")
  if !own.matches(inImage) {
    print(
      "warning: the image's comfy-init \(inImage.description) is not this comfyctl's \(own.description); "
        + "rebuild it with `comfyctl build`")
  }
}

struct LogsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "logs", abstract: "The stack's logs, with the password and token replaced by [redacted].")

  @OptionGroup var options: ProjectOptions
  @Flag(name: .shortAndLong, help: "Keep following.") var follow = false
  @Option(help: "Lines per container to start with.") var tail = "200"
  @Argument(help: "Services (default: all).") var services: [String] = []

  func run() throws {
    let stack = try Stack.open(project: try options.project())
    try Prerequisites.checkEngine()
    let password = (try? SecretsStore(project: stack.project).load())?.password
    let redact: @Sendable (String) -> String = { line in LogRedactor.redact(line, password: password) }
    try stack.engine.streamLogs(services, tail: tail, follow: follow, filter: redact)
  }
}

struct DownCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "down",
    abstract: "Stop and remove the containers and network; --deep also the volumes but the models; --models those too.")

  @OptionGroup var options: ProjectOptions
  @Flag(help: "Also remove the volumes (input, output, user, custom nodes), never the models volume: asks first.")
  var deep = false
  @Flag(help: "With --deep: also remove the models volumes, the downloads (tens of GB to fetch again).")
  var models = false
  @Flag(help: "Do not ask (for --deep).") var yes = false
  @Flag(help: "Back the secrets up into .secrets/backup-STAMP/, then remove them (a new password at the next up).")
  var resetAuth = false

  func validate() throws {
    if models && !deep {
      throw ValidationError("--models needs --deep (it removes the models volumes with the others)")
    }
  }

  func run() throws {
    let stack = try Stack.open(project: try options.project())
    let console = Console()
    try Prerequisites.checkEngine()
    if deep && !yes {
      let question =
        "This deletes the volumes of project \(stack.engine.name): "
        + (models ? "the models (\(stack.modelsVolumes.names(of: Instance.all).joined(separator: ", "))), " : "")
        + "input, output, user data and custom nodes."
      guard Console.confirm(question) else {
        throw CtlError(.confirmationRequired, "--deep deletes user data; confirm on a terminal or pass --yes")
      }
    }
    try stack.engine.remove(volumes: deep, console: console)
    if models {
      try stack.modelsVolumes.remove(console: console)
    } else if deep {
      console.say(
        "models: kept \(stack.modelsVolumes.names(of: Instance.all).joined(separator: ", ")) "
          + "(`comfyctl down --deep --models` removes the downloads too)")
    }
    if resetAuth { try resetSecrets(stack.project, console: console) }
  }

  private func resetSecrets(_ project: Project, console: Console) throws(CtlError) {
    let files = [project.storeFile, project.hashFile].filter { FileOps.exists($0) }
    guard !files.isEmpty else {
      console.say("secrets: nothing to reset")
      return
    }
    let backup = project.secretsDir + "/backup-" + FileOps.timestamp()
    try FileOps.makeDirectory(backup, mode: 0o700)
    for file in files {
      let name = (file as NSString).lastPathComponent
      try FileOps.writeAtomically(backup + "/" + name, try FileOps.read(file), mode: 0o600)
    }
    for file in files where unlink(file) != 0 {
      throw CtlError(.filesystem, "cannot remove \(file): \(FileOps.errnoText())")
    }
    try DerivedSecrets(project: project, settings: Settings(project: project)).removeTokensFromEnv()
    console.say("secrets: backed up to \(relative(backup, project)) and removed; the next `comfyctl up` makes new ones")
  }
}
