// comfyctl's command tree and entry point. Errors end as one line on stderr with the exit code of
// their kind (CtlExitCode); usage errors keep swift-argument-parser's message and code.
import ArgumentParser
import Foundation
import Version

public struct ComfyCtlCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "comfyctl",
    abstract: "Secrets, image and stack of a comfy-init ComfyUI: from a clone to a validated, authenticated server.",
    discussion: "Secrets live in .secrets/comfyui_auth_tokens.conf (the one source); the Docker secret file and "
      + "the tokens in .env are derived from it. Exit codes: see docs/comfyctl.md.",
    version: "comfyctl \(Version.description)",
    subcommands: [
      SecretsCommand.self, EnvCommand.self, BuildCommand.self, UpCommand.self, RestartCommand.self,
      StatusCommand.self, LogsCommand.self, DownCommand.self, ValidateCommand.self,
      GenerateCommand.self,
    ]
  )

  public init() {}

  /// Runs comfyctl with `arguments` (nil: the process's) and returns its exit code.
  public static func run(arguments: [String]? = nil) -> Int32 {
    HostEnvironment.configureHTTP()
    do {
      var command = try parseAsRoot(arguments)
      try command.run()
      return 0
    } catch let error as CtlError {
      FileHandle.standardError.write(Data("comfyctl: \(error.message)\n".utf8))
      return error.code.rawValue
    } catch {
      let code = exitCode(for: error)
      let message = fullMessage(for: error)
      if !message.isEmpty {
        let handle = code == .success ? FileHandle.standardOutput : FileHandle.standardError
        handle.write(Data((message + "\n").utf8))
      }
      return code.rawValue
    }
  }
}

/// Options every command that works on a project takes.
public struct ProjectOptions: ParsableArguments {
  @Option(
    name: .customLong("project-dir"),
    help: "The comfy-init checkout (the folder holding compose/); default: found from the current folder up.")
  var projectDir: String?

  public init() {}

  func project() throws(CtlError) -> Project {
    try Project.locate(explicit: projectDir ?? HostEnvironment.projectDir)
  }
}

/// What several commands need about the running stack.
struct Stack {
  let project: Project
  let settings: Settings
  /// Compose with every profile enabled: status, restart and down concern all instances.
  let allProfiles: DockerCompose

  /// The same project as a swarm stack (same name).
  let swarm: SwarmStack

  init(project: Project) throws(CtlError) {
    self.project = project
    self.settings = Settings(project: project)
    self.allProfiles = try DockerCompose(project: project, settings: settings, profiles: ["*"])
    self.swarm = try SwarmStack(project: project, settings: settings)
  }

  /// Which engine runs this project now: the one owner of that question for every command.
  var deployment: Deployment { Deployment.detect(swarm: swarm) }

  /// The project's containers on whichever engine runs it.
  func containers() throws(CtlError) -> [ContainerInfo] {
    deployment == .swarm ? try swarm.containers() : try allProfiles.containers()
  }

  /// Running ComfyUI containers; empty when the engine is not reachable (then nothing can run).
  func runningContainers() -> [ContainerInfo] {
    guard Docker.engineProblem() == nil, let containers = try? self.containers() else { return [] }
    return containers.filter { $0.state == "running" || $0.state == "restarting" }
  }

  /// Restarts the running services (a restart mounts the secret file again and comfy-init rewrites
  /// login/PASSWORD from it), then waits for them to be healthy. Returns the services restarted.
  @discardableResult
  func restartRunning(timeout: Double, console: Console) throws(CtlError) -> [String] {
    if deployment == .swarm {
      // Swarm secrets are immutable: a restart moves the services onto the secret of the current hash.
      let services = try swarm.rollOntoCurrentSecret(timeout: timeout, console: console)
      try stopUnlessAuthEnforced(services)
      return services
    }
    let services = runningContainers().map(\.service)
    guard !services.isEmpty else { return [] }
    console.say("restarting \(services.joined(separator: ", "))")
    try allProfiles.check(["restart"] + services, what: "docker compose restart")
    var waiter = HealthWaiter(compose: allProfiles, services: services, timeout: timeout)
    waiter.output = console
    try waiter.waitUntilHealthy()
    try stopUnlessAuthEnforced(services)
    return services
  }

  /// Docker's "healthy" comes from an authenticated check, which passes just as well when the server
  /// lets everyone in (ComfyUI-Login not loaded: COMFYUI_ARGS=--disable-all-custom-nodes, a stale
  /// custom_nodes volume). So each service must also refuse a caller without credentials; those that
  /// do not are stopped at once, so that nothing stays open.
  func stopUnlessAuthEnforced(_ services: [String]) throws(CtlError) {
    var open: [(service: String, why: String)] = []
    for service in services {
      guard let instance = instance(for: service) else { continue }
      let port = settings.port(of: instance)
      if let row = AuthProbe(baseURL: settings.url(of: instance)).checkAnonymousAccess().first(where: { !$0.passed }) {
        let answer = row.observed.hasPrefix("no answer") ? "got \(row.observed)" : "answered \(row.observed)"
        open.append((service, "\(row.name) \(answer) on port \(port)"))
      }
    }
    guard !open.isEmpty else { return }
    let stopped =
      deployment == .swarm
      ? try? ProcessRunner.capture(["docker", "service", "scale"] + open.map { swarm.service($0.service) + "=0" })
      : try? allProfiles.capture(["stop"] + open.map(\.service))
    let outcome =
      stopped?.succeeded == true
      ? (open.count == 1 ? "the service was stopped" : "the services were stopped")
      : "stopping failed (\(stopped?.lastLine ?? "docker compose stop did not run")); run `comfyctl down` now"
    throw CtlError(
      .authNotEnforced,
      "auth not enforced: \(open.map(\.why).joined(separator: "; ")); \(outcome) "
        + "(is ComfyUI-Login loaded? see `comfyctl logs`)")
  }

  func instance(for service: String) -> Instance? { Instance.all.first { $0.service == service } }
}
