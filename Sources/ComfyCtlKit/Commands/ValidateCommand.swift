// `comfyctl validate [--url U] [--json]`.
import ArgumentParser
import Foundation

struct ValidateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate", abstract: "Run the whole auth matrix against the server; exit 0 only if every row passes.")

  @OptionGroup var options: ProjectOptions
  @Option(help: "Server URL (default: the main instance, e.g. http://127.0.0.1:8188).") var url: String?
  @Flag(help: "Print the rows as JSON.") var json = false
  @Flag(
    help:
      "The server should use a GPU: the device row fails when /system_stats reports only the CPU (default: when the main container has a GPU device request)."
  )
  var expectGPU = false
  @Flag(help: "The server runs on the CPU: any device passes.") var expectCPU = false

  func validate() throws {
    if expectGPU && expectCPU { throw ValidationError("--expect-gpu and --expect-cpu exclude each other") }
  }

  struct Report: Codable {
    var url: String
    var passed: Bool
    var rows: [ValidationRow]
  }

  func run() throws {
    let project = try options.project()
    let settings = Settings(project: project)
    let credential = try SecretsStore(project: project).load()
    let env = try EnvFile.load(project.envFile)
    let tokens = Dictionary(uniqueKeysWithValues: EnvConsolidator.tokenKeys.map { ($0, env.value($0)) })
    let baseURL = url ?? settings.url(of: Instance.all[0])
    var validator = AuthValidator(baseURL: baseURL, credential: credential, envTokens: tokens)
    validator.expectGPU = expectGPU ? true : expectCPU ? false : nil
    // The main instance's container, when it runs here: whether it has a GPU, and comfy-init's CUDA verdict.
    if url == nil, !expectCPU,
      let container = (try? Stack.open(project: project))?.engine.runningContainers().first(where: {
        $0.service == Instance.all[0].service
      })
    {
      if validator.expectGPU == nil { validator.expectGPU = Docker.requestsGPU(container.name) }
      if validator.expectGPU == true { validator.cudaVerdict = Docker.cudaVerdict(of: container.name) }
    }
    let rows = try validator.run()
    let failed = rows.filter { !$0.passed }.count
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      let data = try encoder.encode(Report(url: baseURL, passed: failed == 0, rows: rows))
      print(String(decoding: data, as: UTF8.self))
    } else {
      let width = rows.map(\.name.count).max() ?? 0
      for row in rows {
        let name = row.name.padding(toLength: width, withPad: " ", startingAt: 0)
        print("\(row.passed ? "PASS" : "FAIL")  \(name)  expected \(row.expected), saw \(row.observed)")
      }
    }
    guard failed == 0 else {
      throw CtlError(.checkFailed, "\(failed) of \(rows.count) auth checks failed at \(baseURL)")
    }
    if !json { print("all \(rows.count) auth checks passed at \(baseURL)") }
  }
}
