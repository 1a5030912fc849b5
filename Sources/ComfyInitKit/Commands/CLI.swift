// comfy-init's command line: which subcommand, and the one place that reports how it ended. Each
// subcommand (a file of this folder) is a checklist of small steps that returns its exit code or
// throws; `main` says a failure once, on one line, and exits with its code.
import CInit
import Version

#if canImport(Glibc)
  import Glibc
#endif

public enum CLI {
  static var help: String {
    """
    comfy-init \(Version.description): PID-1 entrypoint for ComfyUI containers.

    Usage:
      comfy-init [run] [FLAGS] [-- SERVER_ARGS...]  bootstrap, then serve ComfyUI as a supervised child
      comfy-init bootstrap [FLAGS]                 bootstrap only (the image build runs this), then exit 0;
                                                   with no credential it defers the auth phase to `run`
      comfy-init health [--timeout S] [--progress] exit 0 iff an authenticated GET /system_stats answers 200
                                                   and, with auth on, one without credentials is refused;
                                                   --progress adds the downloads' machine lines
      comfy-init provision [FLAGS]                 only the models phase: fetch what COMFYUI_MODELS_MANIFEST
                                                   lists into HOME/ComfyUI/models, verify it, then exit
      comfy-init models lock [MANIFEST] [FLAGS]    print the manifest pinned: every Hub revision a commit,
                                                   every checksum filled in (models.lock, else the source)
      comfy-init models verify [MANIFEST] [FLAGS]  hash every manifest file on disk again; exit 20 if any
                                                   is missing or wrong
      comfy-init hash-password [--cost N]          read a password on stdin, print its bcrypt hash
      comfy-init supervise [-- ] CMD [ARGS...]     run any command as a supervised child (like tini)
      comfy-init version | --help

    Configuration comes from the environment; each variable's flag overrides it (--stop-timeout 3 sets
    COMFYUI_STOP_TIMEOUT=3; a switch such as --offline alone sets 1). Secrets are never accepted as flags.
    Booleans take 1/true/yes/on or 0/false/no/off. The Hugging Face token goes over HTTPS to huggingface.co,
    HF_ENDPOINT's host and COMFYUI_TOKEN_HOSTS only, the CivitAI token to civitai.com and
    COMFYUI_CIVITAI_ENDPOINT's host only, never after a redirect to another host.
    \(Config.helpLines)

    \(ExitCode.helpText)
    """
  }

  /// The process arguments, from the pre-runtime capture (CommandLine may be empty in a static PID 1).
  public static func arguments() -> [String] {
    let argv = cinit_argv()
    guard let argv, cinit_argc() > 0 else { return Array(CommandLine.arguments) }
    return (1..<Int(cinit_argc())).map { String(cString: argv[$0]!) }
  }

  public static func main() -> Int32 {
    do {
      return try dispatch(arguments())
    } catch let error as InitError {
      Log.error(error.message)
      return error.code.rawValue
    } catch {
      Log.error("\(error)")
      return ExitCode.failure.rawValue
    }
  }

  static func dispatch(_ arguments: [String]) throws -> Int32 {
    var args = arguments
    let command =
      args.first.flatMap { $0.hasPrefix("-") && $0 != "--help" && $0 != "-h" && $0 != "--version" ? nil : $0 } ?? "run"
    if !args.isEmpty && args[0] == command { args.removeFirst() }
    switch command {
    case "run": return try RunCommand.run(args, bootstrapOnly: false)
    case "bootstrap": return try RunCommand.run(args, bootstrapOnly: true)
    case "health": return try HealthCommand.run(args)
    case "provision": return try ProvisionCommand.run(args)
    case "models": return try ModelsCommand.run(args)
    case "hash-password": return try HashPasswordCommand.run(args)
    case "supervise": return try SuperviseCommand.run(args)
    case "version", "--version":
      print(versionLine)
      return 0
    case "help", "--help", "-h":
      print(help)
      return 0
    default: throw InitError(.usage, "unknown command '\(command)'; run comfy-init --help")
    }
  }

  /// "comfy-init 0.1.0 (commit abc1234) ComfyUI v0.8.0 by default": comfyctl reads the first four
  /// words of it for the image's labels (ComfyCtlKit's InitBinary), so keep their order.
  static var versionLine: String { "comfy-init \(Version.description) ComfyUI \(Config.defaultRef) by default" }

  /// The configuration from the environment with `flags` over it.
  static func loadConfig(flags: [String], readSecrets: Bool = true) throws(InitError) -> Config {
    try Config.load(environment: Config.applyFlags(flags, to: Config.processEnvironment()), readSecrets: readSecrets)
  }
}
