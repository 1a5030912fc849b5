// comfy-init's exit codes are written once, in ExitCode: `--help` lists them from there, README's
// table must list exactly them, and each one that a test can provoke has a test that expects it.
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct InitExitCodeTests {
  /// Where each code is expected: a test file that compares an exit status with it. `ok` and
  /// `failure` (an error comfy-init has no code for: a bug) have none of their own.
  static let testedIn: [ExitCode: String] = [
    .usage: "CommandLineTests", .config: "BadInputTests", .credential: "BadInputTests",
    .filesystem: "BadInputTests", .lock: "CommandLineTests", .git: "BadInputTests", .python: "BadInputTests",
    .install: "BadInputTests", .offline: "BadInputTests", .customNode: "BadInputTests",
    .privileges: "RootSafetyTests", .models: "ProvisioningTests", .authNotEnforced: "AuthFailsClosedTests",
    .cudaIncompatible: "CUDACompatibilityTests", .gate: "GateTests", .cannotExecute: "StartPromiseTests",
    .notFound: "StartPromiseTests",
  ]

  @Test func readmeListsExactlyTheCodesOfExitCode() throws {
    let readme = try String(contentsOfFile: Paths.root + "/README.md", encoding: .utf8)
    let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let start = try #require(lines.firstIndex(of: "### Exit codes"), "README has no '### Exit codes' table")
    var documented: Set<Int32> = []
    for line in lines[(start + 1)...].drop(while: { !$0.hasPrefix("|") }) {
      guard line.hasPrefix("|") else { break }
      let first = line.split(separator: "|").first.map(String.init) ?? ""
      for word in first.split(separator: ",") {
        if let code = Int32(word.trimmingCharacters(in: .whitespaces)) { documented.insert(code) }
      }
    }
    #expect(documented == Set(ExitCode.allCases.map(\.rawValue)), "README's exit codes and ExitCode differ")
  }

  @Test func helpListsEveryCodeFromTheEnum() throws {
    let result = try runProcess([Paths.comfyInit, "--help"], environment: baseEnvironment())
    #expect(result.status == 0)
    for code in ExitCode.allCases {
      #expect(result.stdout.contains("\(code.rawValue) \(code.summary)"), "--help lacks \(code)")
    }
  }

  /// Each code but ok and failure names a test file that expects that number as an exit status.
  @Test func everyCodeHasATestThatExpectsIt() throws {
    let untested = Set(ExitCode.allCases).subtracting([.ok, .failure]).subtracting(Self.testedIn.keys)
    #expect(untested.isEmpty, "no test named for \(untested)")
    for (code, file) in Self.testedIn {
      let text = try String(contentsOfFile: Paths.root + "/Tests/ComfyInitTests/\(file).swift", encoding: .utf8)
      let n = code.rawValue
      let patterns = [
        "status == \(n)", "code: \(n)", "(\(n), ", "Int32(\(n))", "ExitCode.\(code)", ".\(code).rawValue",
      ]
      #expect(patterns.contains { text.contains($0) }, "\(file).swift expects no exit \(n) (\(code))")
    }
  }
}
