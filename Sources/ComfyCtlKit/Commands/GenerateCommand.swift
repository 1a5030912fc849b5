// `comfyctl generate WORKFLOW.json | --builtin [--url U] [--output DIR] [--timeout S] [--repeat N] [--json]`.
import ArgumentParser
import Foundation

struct GenerateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Run an API-format workflow through the authenticated API and download its images.",
    discussion: "The bearer token comes from the secrets store. --builtin runs a workflow shipped in comfyctl "
      + "that needs no model file and checks its output. Exit codes: see docs/comfyctl.md.")

  @OptionGroup var options: ProjectOptions
  @Argument(help: "An API-format workflow (ComfyUI: Export (API) / Save (API)).") var workflow: String?
  @Flag(help: "Run the built-in workflow (core nodes only) and check its PNG.") var builtin = false
  @Option(help: "Server URL (default: the main instance, e.g. http://127.0.0.1:8188).") var url: String?
  @Option(help: "Folder for the images.") var output = "comfyui-output"
  @Option(help: "Seconds to wait for each result before interrupting it.") var timeout = 600.0
  @Option(help: "Runs; with more than one, prints median/min/max seconds per image.") var `repeat` = 1
  @Flag(help: "Print the result as JSON.") var json = false

  struct Report: Codable {
    struct Run: Codable {
      var promptID: String
      var seconds: Double
      var files: [String]
      var cached: Bool
    }
    struct Stats: Codable {
      var median: Double
      var min: Double
      var max: Double
    }
    var url: String
    var runs: [Run]
    var secondsPerImage: Stats?
  }

  func validate() throws {
    guard builtin != (workflow != nil) else {
      throw ValidationError("give a workflow file or --builtin (one of the two)")
    }
    guard self.repeat >= 1 else { throw ValidationError("--repeat must be at least 1") }
    guard timeout > 0 else { throw ValidationError("--timeout must be more than 0") }
  }

  func run() throws {
    let file = try workflow.map { try Generator.loadWorkflow($0) } ?? [:]
    let (baseURL, token) = try target()
    let console = Console()
    let generator = Generator(
      api: ComfyAPI(baseURL: baseURL, token: token), timeout: timeout, console: json ? nil : console)
    var runs: [Generation] = []
    for index in 0..<self.repeat {
      // Each run is new (seeds moved on, the built-in one another colour): ComfyUI would otherwise
      // answer it from its cache.
      let builtinRun = builtin ? BuiltinWorkflow.random() : nil
      let result = try generator.run(builtinRun?.prompt ?? Generator.reseeded(file, run: index), outputDir: output)
      if let builtinRun {
        for file in result.files {
          let bytes = Array(FileManager.default.contents(atPath: file) ?? Data())
          if let problem = builtinRun.problem(with: bytes) {
            throw CtlError(.checkFailed, "\(file) is \(problem); expected \(builtinRun.expected)")
          }
        }
        guard !result.files.isEmpty else { throw CtlError(.checkFailed, "the built-in workflow saved no image") }
      }
      runs.append(result)
      if !json {
        let note = result.cached ? " (every node came from ComfyUI's cache)" : ""
        console.say(
          "\(result.files.joined(separator: ", ")) in \(Console.seconds(result.seconds)) queue to result\(note)")
      }
    }
    let perImage = runs.filter { !$0.files.isEmpty }.map { $0.seconds / Double($0.files.count) }.sorted()
    let stats =
      perImage.count > 1
      ? Report.Stats(
        median: perImage.count % 2 == 1
          ? perImage[perImage.count / 2] : (perImage[perImage.count / 2 - 1] + perImage[perImage.count / 2]) / 2,
        min: perImage[0], max: perImage[perImage.count - 1]) : nil
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      let report = Report(
        url: baseURL,
        runs: runs.map { .init(promptID: $0.promptID, seconds: $0.seconds, files: $0.files, cached: $0.cached) },
        secondsPerImage: stats)
      print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else if let stats {
      console.say(
        "per image over \(runs.count) runs: median \(Console.seconds(stats.median)), min "
          + "\(Console.seconds(stats.min)), max \(Console.seconds(stats.max))")
    }
  }

  /// The URL and the token. The token is the hash in the project's secrets store; with --url and no
  /// project or no store, none is sent (a ComfyUI without ComfyUI-Login), and a 401 says so.
  func target() throws(CtlError) -> (String, String?) {
    let project: Project
    do {
      project = try options.project()
    } catch {
      guard let url, error.code == .projectNotFound else { throw error }
      return (url, nil)
    }
    let baseURL = url ?? Settings(project: project).url(of: Instance.all[0])
    do {
      return (baseURL, try SecretsStore(project: project).load().hash)
    } catch {
      guard url != nil, error.code == .secretsMissing else { throw error }
      return (baseURL, nil)
    }
  }
}
