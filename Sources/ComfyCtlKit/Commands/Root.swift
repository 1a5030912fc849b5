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
