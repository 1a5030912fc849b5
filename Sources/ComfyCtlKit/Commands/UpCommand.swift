// `comfyctl up`: prerequisites, secrets, image, `docker compose up`, healthy, then the URL and how to
// get the token.
import ArgumentParser
import Foundation

struct UpCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "up",
    abstract: "Check prerequisites, create secrets if needed, start the stack and wait until healthy.")

  @OptionGroup var options: ProjectOptions
  @Option(help: "Seconds to wait for healthy.") var waitTimeout: Double = 600
  @Option(help: "Also start this instance: \(Instance.profiles.joined(separator: ", ")) (repeatable).")
  var profile: [String] = []
  @Flag(help: "No GPU: the CPU-only override (also COMFYUI_CPU=1 in .env).") var cpu = false
  @Flag(help: "Build the image first even if it exists.") var build = false
  @Flag(help: "Download no models this time (COMFYUI_SKIP_MODELS=1 for the containers).") var skipModels = false
  @OptionGroup var buildOptions: BuildOptions

  func validate() throws {
    for name in profile where !Instance.profiles.contains(name) {
      throw ValidationError("unknown profile '\(name)'; use one of \(Instance.profiles.joined(separator: ", "))")
    }
  }

  func run() throws {
    let project = try options.project()
    let console = Console()
    try Prerequisites.checkEngine()
    try Prerequisites.checkCompose()
    var settings = Settings(project: project)
    let cpuOnly = cpu || settings.cpuOnly
    if !cpuOnly { try Prerequisites.checkGPURuntime() }
    try recordProjectName(project: project, settings: settings, console: console)

    if !SecretsStore(project: project).exists {
      try initializeSecrets(project: project, console: console)
    } else {
      // Derived files are refreshed on every start: a hand-edited .env token cannot survive.
      let credential = try SecretsStore(project: project).load()
      for path in try DerivedSecrets(project: project, settings: settings).write(credential) {
        console.say("secrets: refreshed \(relative(path, project))")
      }
    }
    settings = Settings(project: project)  // .env may be new

    let image = buildOptions.tag ?? settings.image
    if build || !Docker.imageExists(image) {
      if !build { console.say("image \(image) not found: building it") }
      try buildOptions.builder(project: project, settings: settings).build()
    }
    try Prerequisites.checkSecretReadable(project: project, image: image)

    let instances = Instance.all.filter { $0.profile == nil || profile.contains($0.profile!) }
    let compose = try DockerCompose(project: project, settings: settings, cpu: cpuOnly, profiles: profile)
    let running = Set(try compose.containers().filter { $0.state == "running" }.map(\.service))
    for instance in instances where !running.contains(instance.service) {
      try Prerequisites.checkPortFree(
        address: settings.bindAddress, port: settings.port(of: instance), variable: instance.portVariable)
    }

    console.say("starting \(instances.map(\.service).joined(separator: ", "))\(cpuOnly ? " (CPU only)" : "")")
    var environment = [String: String]()
    if buildOptions.tag != nil { environment["COMFYUI_IMAGE"] = image }
    // Compose interpolates it into the services' environment (compose/docker-compose.yml).
    if skipModels { environment["COMFYUI_SKIP_MODELS"] = "1" }
    let result = try ProcessRunner.capture(
      compose.baseArguments + ["up", "--detach"] + instances.map(\.service), environment: environment,
      directory: project.root)
    guard result.succeeded else {
      throw CtlError(.composeFailed, "docker compose up failed: \(result.lastLine)")
    }
    var waiter = HealthWaiter(compose: compose, services: instances.map(\.service), timeout: waitTimeout)
    waiter.output = console
    let elapsed = try waiter.waitUntilHealthy()
    try Stack(project: project).stopUnlessAuthEnforced(instances.map(\.service))

    let username = (try? SecretsStore(project: project).load())?.username ?? "admin"
    console.say("ComfyUI is up, healthy and refuses callers without credentials (\(Console.seconds(elapsed))):")
    for instance in instances {
      console.say("  \(instance.service): \(settings.url(of: instance))  (user \(username))")
    }
    console.say("  login password: comfyctl secrets show --password")
    console.say("  API token:      comfyctl secrets show --token   (also COMFYUI_BEARER_TOKEN in .env)")
    console.say("  check it all:   comfyctl validate")
  }

  /// A name derived from the folder is written to .env before anything is created under it: moving or
  /// renaming the folder then keeps its volumes. Volumes of the old shared name get one warning line.
  private func recordProjectName(project: Project, settings: Settings, console: Console) throws(CtlError) {
    let (name, isSet) = try ProjectName.resolve(settings: settings, project: project)
    guard !isSet else { return }
    let legacy = Docker.volumes(ofProject: ProjectName.legacy)
    if name != ProjectName.legacy && !legacy.isEmpty {
      console.warn(
        "\(legacy.count) volume(s) of the old shared project \(ProjectName.legacy) exist; this deployment now uses "
          + "its own, \(name); set \(ProjectName.variable)=\(ProjectName.legacy) in .env to keep using them")
    }
    try ProjectName.record(name, in: project)
    console.say("project name \(name) recorded in .env (\(ProjectName.variable))")
  }
}
