// `comfyctl env consolidate MASTER FILE... [--prefer FILE]`.
import ArgumentParser
import Foundation

struct EnvCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "env", abstract: "Manage .env files.", subcommands: [EnvConsolidate.self])
}

struct EnvConsolidate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "consolidate",
    abstract: "Merge .env files into MASTER (backups first), then make the others symlinks to it.",
    discussion: """
      MASTER gets every key of every file. A key whose files disagree stops the command, unless --prefer \
      names the file that wins. COMFYUI_BEARER_TOKEN and COMFYUI_API_TOKEN are one token: both are set, \
      to the secrets store's value when the project has one. Every original is kept as FILE.bak-STAMP.
      """)

  @OptionGroup var options: ProjectOptions
  @Argument(help: "The file that remains (created when missing).") var master: String
  @Argument(help: "The files to merge; each becomes a symlink to MASTER.") var files: [String]
  @Option(help: "On a conflict this file's value wins (repeat: earlier ones first).") var prefer: [String] = []

  func validate() throws {
    if files.isEmpty { throw ValidationError("name at least one FILE to merge into MASTER") }
  }

  func run() throws {
    // The store's token is the truth when this runs inside a project that has one.
    let storeToken = (try? options.project()).flatMap { try? SecretsStore(project: $0).load() }?.hash
    let consolidator = EnvConsolidator(master: master, files: files, prefer: prefer, storeToken: storeToken)
    let conflicts = try consolidator.conflicts()
    for conflict in conflicts {
      let values = conflict.values.map { "\($0.file): \(EnvConsolidator.display(key: conflict.key, value: $0.value))" }
      FileHandle.standardError.write(Data("conflict \(conflict.key): \(values.joined(separator: " | "))\n".utf8))
    }
    let report = try consolidator.run()
    for (original, backup) in report.backups { print("backed up \(original) -> \(backup)") }
    for (key, from) in report.added { print("added \(key) from \(from)") }
    for (key, winner) in report.settled { print("conflict on \(key) settled: \(winner) wins") }
    for path in report.linked { print("linked \(path) -> \(report.master)") }
    for path in report.alreadyLinked { print("already a link to MASTER: \(path)") }
    print("consolidated \(report.linked.count) file(s) into \(report.master)")
  }
}
