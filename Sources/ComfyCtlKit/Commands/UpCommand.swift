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
    if swarm { try joinSwarm(console: console) }
    // On a swarm the GPU is the nodes' business (generic resources), not this host's runtime.
    if !cpuOnly && !swarm { try Prerequisites.checkGPURuntime() }
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
    let instances = Instance.all.filter { $0.profile == nil || profile.contains($0.profile!) }
    var environment = [String: String]()
    if buildOptions.tag != nil { environment["COMFYUI_IMAGE"] = image }
    // Compose interpolates it into the services' environment (compose/docker-compose.yml).
    if skipModels { environment["COMFYUI_SKIP_MODELS"] = "1" }
    if swarm {
      try deployStack(
        project: project, settings: settings, instances: instances, cpuOnly: cpuOnly, environment: environment,
        console: console)
      return
    }
    try Prerequisites.checkSecretReadable(project: project, image: image)
    let compose = try DockerCompose(project: project, settings: settings, cpu: cpuOnly, profiles: profile)
    let running = Set(try compose.containers().filter { $0.state == "running" }.map(\.service))
    for instance in instances where !running.contains(instance.service) {
      try Prerequisites.checkPortFree(
        address: settings.bindAddress, port: settings.port(of: instance), variable: instance.portVariable)
    }

    console.say("starting \(instances.map(\.service).joined(separator: ", "))\(cpuOnly ? " (CPU only)" : "")")
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

  /// Stack deploy only talks to a swarm manager. Making this engine one changes it for every other
  /// user of it, so it happens only when asked (--init-swarm) or agreed to on a terminal.
  private func joinSwarm(console: Console) throws(CtlError) {
    guard !SwarmNode.isManager() else { return }
    let state = SwarmNode.state()
    guard state == "inactive" else {
      throw CtlError(
        .notASwarmManager,
        "this engine's swarm state is \(state), not a manager's; run `comfyctl up --swarm` on a manager node")
    }
    guard
      initSwarm
        || Console.confirm("This Docker engine is in no swarm. Make it a single-node swarm (docker swarm init)?")
    else {
      throw CtlError(
        .notASwarmManager,
        "this Docker engine is in no swarm; pass --init-swarm to make it a single-node one, or run `docker swarm init`")
    }
    var args = ["docker", "swarm", "init"]
    if let advertiseAddr { args += ["--advertise-addr", advertiseAddr] }
    let result = try ProcessRunner.capture(args)
    guard result.succeeded else { throw CtlError(.composeFailed, "docker swarm init failed: \(result.lastLine)") }
    console.say("swarm: this engine is now a single-node swarm manager (`docker swarm leave --force` undoes it)")
  }

  /// `up --swarm`: the compose file translated (SwarmStack), deployed, then waited for: swarm has no
  /// depends_on and no health gate of its own, so comfyctl watches each task's container until healthy.
  private func deployStack(
    project: Project, settings: Settings, instances: [Instance], cpuOnly: Bool, environment: [String: String],
    console: Console
  ) throws(CtlError) {
    let stack = try Stack(project: project)
    if stack.deployment == .compose && !stack.runningContainers().isEmpty {
      throw CtlError(
        .composeFailed,
        "project \(stack.swarm.name) runs under docker compose; stop it with `comfyctl down` before `up --swarm`")
    }
    let (file, notes) = try stack.swarm.render(cpu: cpuOnly, profiles: profile, environment: environment)
    let services = instances.map(\.service)
    console.say(
      "deploying swarm stack \(stack.swarm.name): \(services.joined(separator: ", "))\(cpuOnly ? " (CPU only)" : "")")
    for note in notes { console.say("swarm: \(note)") }
    console.say("swarm: \(SwarmStack.portRule)")
    try stack.swarm.deploy(file)
    var waiter = HealthWaiter(services: services, timeout: waitTimeout) { () throws(CtlError) in
      try stack.swarm.containers()
    }
    waiter.output = console
    waiter.pendingReason = { stack.swarm.taskProblem($0) }
    let elapsed = try waiter.waitUntilHealthy()
    stack.swarm.removeUnusedSecrets(keeping: try stack.swarm.currentSecretName())
    try stack.stopUnlessAuthEnforced(services)
    printURLs(project: project, settings: settings, instances: instances, elapsed: elapsed, console: console)
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
