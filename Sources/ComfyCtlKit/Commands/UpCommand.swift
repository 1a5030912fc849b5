// `comfyctl up`: prerequisites, secrets, image, the engine's deploy (Compose, or Swarm with --swarm),
// healthy and refusing callers without credentials, then the URL and how to get the token.
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
  @Flag(help: "Deploy as a Docker Swarm stack (`docker stack deploy`) instead of Compose; see docs/deploy.md.")
  var swarm = false
  @Flag(help: "With --swarm: make this engine a single-node swarm (`docker swarm init`) if it is in none.")
  var initSwarm = false
  @Option(help: "With --init-swarm: the address the new swarm advertises (docker swarm init --advertise-addr).")
  var advertiseAddr: String?
  @OptionGroup var buildOptions: BuildOptions

  func validate() throws {
    for name in profile where !Instance.profiles.contains(name) {
      throw ValidationError("unknown profile '\(name)'; use one of \(Instance.profiles.joined(separator: ", "))")
    }
    if (initSwarm || advertiseAddr != nil) && !swarm { throw ValidationError("--init-swarm needs --swarm") }
  }

  func run() throws {
    let project = try options.project()
    let console = Console()
    try Prerequisites.checkEngine()
    try Prerequisites.checkCompose()
    var settings = Settings(project: project)
    let cpuOnly = cpu || settings.cpuOnly
    let stack = try Stack.open(
      project: project, choosing: swarm ? .swarm(initSwarm: initSwarm, advertiseAddr: advertiseAddr) : .compose)
    try stack.engine.prepareHost(gpu: !cpuOnly, console: console)
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
    // Compose refuses a secret whose file is missing: the tokens the user gave none of are empty files.
    for path in try ModelTokens(project: project, settings: settings).createMissing() {
      console.say("secrets: made an empty \(relative(path, project)) (no token; `comfyctl secrets --help`)")
    }

    let image = buildOptions.tag ?? settings.image
    if build || !Docker.imageExists(image) {
      if !build { console.say("image \(image) not found: building it") }
      try buildOptions.builder(project: project, settings: settings).build()
    }
    let instances = Instance.all.filter { $0.profile == nil || profile.contains($0.profile!) }
    var environment = [String: String]()
    if buildOptions.tag != nil { environment["COMFYUI_IMAGE"] = image }
    // Compose interpolates it into the services' environment (compose/docker-compose.yml).
    if skipModels { environment["COMFYUI_SKIP_MODELS"] = "1" }
    let deployment = Deployment(
      instances: instances, profiles: profile, cpuOnly: cpuOnly, environment: environment, image: image,
      timeout: waitTimeout)
    let elapsed = try stack.engine.deploy(deployment, console: console)
    try stack.stopUnlessAuthEnforced(deployment.services)
    printURLs(project: project, settings: settings, instances: instances, elapsed: elapsed, console: console)
  }

  private func printURLs(
    project: Project, settings: Settings, instances: [Instance], elapsed: Double, console: Console
  ) {
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
