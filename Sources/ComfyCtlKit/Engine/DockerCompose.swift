// `docker compose` for this project: the same project name, files, project folder and profiles on
// every call, so `up`, `status`, `logs` and `down` always talk about the same stack.
import Foundation

public struct ContainerInfo: Sendable, Equatable {
  public var id: String
  public var name: String
  public var service: String
  /// created, running, restarting, exited, ...
  public var state: String
  /// healthy, unhealthy, starting, or empty.
  public var health: String
}

public struct DockerCompose: Sendable {
  public let project: Project
  public let settings: Settings
  /// From ProjectName.resolve, passed as `-p` on every call.
  public let projectName: String
  public var cpu: Bool
  /// Profiles to enable; "*" enables all of them (what `down` and `status` want).
  public var profiles: [String]

  public init(project: Project, settings: Settings, cpu: Bool = false, profiles: [String] = []) throws(CtlError) {
    self.project = project
    self.settings = settings
    self.projectName = try ProjectName.resolve(settings: settings, project: project).name
    self.cpu = cpu
    self.profiles = profiles
  }

  /// `docker compose` with the project name and folder made explicit: relative paths in the compose
  /// files (the secret file) resolve against the folder, and Compose reads its .env for the settings.
  public var baseArguments: [String] {
    var args = [
      "docker", "compose", "--project-name", projectName, "--project-directory", project.root, "-f",
      project.root + "/" + Project.composeFile,
    ]
    if cpu { args += ["-f", project.root + "/" + Project.cpuComposeFile] }
    for profile in profiles { args += ["--profile", profile] }
    return args
  }

  public func capture(_ arguments: [String]) throws(CtlError) -> ProcessOutput {
    try ProcessRunner.capture(baseArguments + arguments, directory: project.root)
  }

  public func stream(_ arguments: [String]) throws(CtlError) -> Int32 {
    try ProcessRunner.stream(baseArguments + arguments, directory: project.root)
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
    return DockerCompose.parseContainers(result.stdout)
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
