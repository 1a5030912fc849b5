// The Compose engine: `docker compose` for this project, the same project name, files, project folder
// and profiles on every call, so that `up`, `status`, `logs` and `down` always talk about the same stack.
import Foundation

public struct ComposeEngine: Engine, Sendable {
  public let project: Project
  public let settings: Settings
  /// From ProjectName.resolve, passed as `-p` on every call.
  public let name: String
  public var cpu: Bool
  /// Profiles to enable; "*" enables all of them (what `down` and `status` want).
  public var profiles: [String]

  var summary: String? { nil }

  public init(project: Project, settings: Settings, cpu: Bool = false, profiles: [String] = []) throws(CtlError) {
    self.project = project
    self.settings = settings
    self.name = try ProjectName.resolve(settings: settings, project: project).name
    self.cpu = cpu
    self.profiles = profiles
  }

  /// `docker compose` with the project name and folder made explicit: relative paths in the compose
  /// files (the secret file) resolve against the folder, and Compose reads its .env for the settings.
  public var baseArguments: [String] {
    var args = [
      "docker", "compose", "--project-name", name, "--project-directory", project.root, "-f",
      project.root + "/" + Project.composeFile,
    ]
    if cpu { args += ["-f", project.root + "/" + Project.cpuComposeFile] }
    for profile in profiles { args += ["--profile", profile] }
    return args
  }

  public func capture(_ arguments: [String]) throws(CtlError) -> ProcessOutput {
    try ProcessRunner.capture(baseArguments + arguments, directory: project.root)
  }

  /// Runs and throws `.composeFailed` with Compose's last line when it fails.
  public func check(_ arguments: [String], what: String) throws(CtlError) {
    let result = try capture(arguments)
    guard result.succeeded else {
      throw CtlError(.composeFailed, "\(what) failed: \(result.lastLine)")
    }
  }

  /// The project's containers, stopped ones included.
  public func containers() throws(CtlError) -> [ContainerInfo] {
    let result = try capture(["ps", "-a", "--format", "json"])
    guard result.succeeded else { throw CtlError(.composeFailed, "docker compose ps failed: \(result.lastLine)") }
    return ComposeEngine.parseContainers(result.stdout)
  }

  func describeMissing(_ containers: [ContainerInfo]) -> [String] {
    containers.isEmpty ? ["not running; start it with `comfyctl up`"] : []
  }

  // MARK: - Engine

  func prepareHost(gpu: Bool, console: Console) throws(CtlError) {
    if gpu { try Prerequisites.checkGPURuntime() }
  }

  /// `docker compose up --detach` of the deployment's services (the profiles and --cpu it names), once
  /// the secret is readable in the image and the ports of services not running yet are free.
  func deploy(_ deployment: Deployment, console: Console) throws(CtlError) -> Double {
    try Prerequisites.checkSecretReadable(project: project, image: deployment.image)
    var compose = self
    compose.cpu = deployment.cpuOnly
    compose.profiles = deployment.profiles
    let running = Set(try compose.containers().filter { $0.state == "running" }.map(\.service))
    for instance in deployment.instances where !running.contains(instance.service) {
      try Prerequisites.checkPortFree(
        address: settings.bindAddress, port: settings.port(of: instance), variable: instance.portVariable)
    }
    let models = ModelsVolumes(settings: settings, projectName: name)
    try models.create(for: deployment.instances, console: console)
    for line in models.describeLegacy(for: deployment.instances, image: deployment.image) { console.warn(line) }
    console.say("starting \(deployment.services.joined(separator: ", "))\(deployment.cpuNote)")
    let result = try ProcessRunner.capture(
      compose.baseArguments + ["up", "--detach"] + deployment.services, environment: deployment.environment,
      directory: project.root)
    guard result.succeeded else {
      throw CtlError(.composeFailed, "docker compose up failed: \(result.lastLine)")
    }
    var waiter = HealthWaiter(compose: compose, services: deployment.services, timeout: deployment.timeout)
    waiter.output = console
    return try waiter.waitUntilHealthy()
  }

  /// A restart mounts the secret file again, and comfy-init rewrites login/PASSWORD from it.
  func restart(timeout: Double, console: Console) throws(CtlError) -> [String] {
    let services = runningContainers().map(\.service)
    guard !services.isEmpty else { return [] }
    console.say("restarting \(services.joined(separator: ", "))")
    try check(["restart"] + services, what: "docker compose restart")
    var waiter = HealthWaiter(compose: self, services: services, timeout: timeout)
    waiter.output = console
    try waiter.waitUntilHealthy()
    return services
  }

  func stop(_ services: [String]) -> ProcessOutput? {
    try? capture(["stop"] + services)
  }

  func streamLogs(
    _ services: [String], tail: String, follow: Bool, filter: @escaping @Sendable (String) -> String
  ) throws(CtlError) {
    var args = baseArguments + ["logs", "--tail", tail]
    if follow { args.append("--follow") }
    let status = try ProcessRunner.streamFiltered(args + services, directory: project.root, filter: filter)
    if status != 0 { throw CtlError(.composeFailed, "docker compose logs failed (exit \(status))") }
  }

  func remove(volumes: Bool, console: Console) throws(CtlError) {
    var args = ["down", "--remove-orphans"]
    if volumes { args.append("--volumes") }
    try check(args, what: "docker compose down")
    console.say("stack \(name) removed\(volumes ? ", volumes included" : " (volumes kept)")")
  }

  /// Compose prints one JSON object per line (older versions: one array).
  static func parseContainers(_ text: String) -> [ContainerInfo] {
    var objects: [[String: Any]] = []
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.hasPrefix("[") {
      objects = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [[String: Any]] ?? []
    } else {
      for line in trimmed.split(separator: "\n") {
        if let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] {
          objects.append(object)
        }
      }
    }
    return objects.map {
      ContainerInfo(
        id: $0["ID"] as? String ?? "", name: $0["Name"] as? String ?? "", service: $0["Service"] as? String ?? "",
        state: $0["State"] as? String ?? "", health: $0["Health"] as? String ?? "")
    }
  }
}
