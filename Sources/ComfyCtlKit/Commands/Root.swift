// comfyctl's command tree and entry point. Errors end as one line on stderr with the exit code of
// their kind (CtlExitCode); usage errors keep swift-argument-parser's message and code.
import ArgumentParser
import Foundation

public struct ComfyCtlCommand: ParsableCommand {
  public static let version = "0.1.0"

  public static let configuration = CommandConfiguration(
    commandName: "comfyctl",
    abstract: "Secrets, image and stack of a comfy-init ComfyUI: from a clone to a validated, authenticated server.",
    discussion: "Secrets live in .secrets/comfyui_auth_tokens.conf (the one source); the Docker secret file and "
      + "the tokens in .env are derived from it. Exit codes: see docs/comfyctl.md.",
    version: version,
    subcommands: [
      SecretsCommand.self, EnvCommand.self, BuildCommand.self, UpCommand.self, RestartCommand.self,
      StatusCommand.self, LogsCommand.self, DownCommand.self, ValidateCommand.self,
    ]
  )

  public init() {}

  /// Runs comfyctl with `arguments` (nil: the process's) and returns its exit code.
  public static func run(arguments: [String]? = nil) -> Int32 {
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
    try Project.locate(explicit: projectDir ?? ProcessInfo.processInfo.environment["COMFYCTL_PROJECT_DIR"])
  }
}

/// What several commands need about the running stack.
struct Stack {
  let project: Project
  let settings: Settings
  /// Compose with every profile enabled: status, restart and down concern all instances.
  let allProfiles: DockerCompose

  init(project: Project) throws(CtlError) {
    self.project = project
    self.settings = Settings(project: project)
    self.allProfiles = try DockerCompose(project: project, settings: settings, profiles: ["*"])
  }

  /// Running ComfyUI containers; empty when the engine is not reachable (then nothing can run).
  func runningContainers() -> [ContainerInfo] {
    guard Docker.engineProblem() == nil, let containers = try? allProfiles.containers() else { return [] }
    return containers.filter { $0.state == "running" || $0.state == "restarting" }
  }

  /// Restarts the running services (a restart mounts the secret file again and comfy-init rewrites
  /// login/PASSWORD from it), then waits for them to be healthy. Returns the services restarted.
  @discardableResult
  func restartRunning(timeout: Double, console: Console) throws(CtlError) -> [String] {
    let services = runningContainers().map(\.service)
    guard !services.isEmpty else { return [] }
    console.say("restarting \(services.joined(separator: ", "))")
    try allProfiles.check(["restart"] + services, what: "docker compose restart")
    var waiter = HealthWaiter(compose: allProfiles, services: services, timeout: timeout)
    waiter.output = console
    try waiter.waitUntilHealthy()
    return services
  }

  func instance(for service: String) -> Instance? { Instance.all.first { $0.service == service } }
}
