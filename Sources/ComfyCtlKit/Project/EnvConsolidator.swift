// `comfyctl env consolidate MASTER FILE...`: several drifting .env files become one. MASTER gets the
// union of the keys, each original is backed up before anything changes, and the other files become
// symlinks to MASTER, so no client can read a stale token again.
import Foundation

public struct EnvConsolidator {
  /// One token, two names that clients use: both always hold the same value.
  public static let tokenKeys = ["COMFYUI_BEARER_TOKEN", "COMFYUI_API_TOKEN"]

  public struct Conflict: Sendable, Equatable {
    public var key: String
    /// (file, value) for each distinct value, in input order.
    public var values: [(file: String, value: String)]

    public static func == (a: Conflict, b: Conflict) -> Bool {
      a.key == b.key && a.values.map(\.file) == b.values.map(\.file) && a.values.map(\.value) == b.values.map(\.value)
    }
  }

  public struct Report: Sendable {
    public var master: String
    /// Original path -> its backup.
    public var backups: [(original: String, backup: String)] = []
    public var linked: [String] = []
    public var alreadyLinked: [String] = []
    /// Keys MASTER did not have, with the file they came from.
    public var added: [(key: String, from: String)] = []
    /// Conflicts settled by --prefer or by the secrets store, with the file (or "the secrets store") that won.
    public var settled: [(key: String, winner: String)] = []
  }

  public var master: String
  public var files: [String]
  /// Files whose values win conflicts, first one first.
  public var prefer: [String]
  /// The current token from the secrets store, when the project has one: it wins over any file.
  public var storeToken: String?

  public init(master: String, files: [String], prefer: [String] = [], storeToken: String? = nil) {
    self.master = absolutePath(master)
    self.files = files.map { absolutePath($0) }
    self.prefer = prefer.map { absolutePath($0) }
    self.storeToken = storeToken
  }

  /// A source file and what it holds.
  struct Source {
    var path: String
    var env: EnvFile
  }

  /// Every key whose files disagree and that neither --prefer nor the store settles.
  public func conflicts() throws(CtlError) -> [Conflict] {
    let (masterEnv, sources) = try loadSources()
    return plan(masterEnv: masterEnv, sources: sources).conflicts
  }

  /// Backs up, merges, writes MASTER, links the others. Throws `.envConflict` before touching anything
  /// when a conflict is left unsettled.
  public func run(stamp: String? = nil) throws(CtlError) -> Report {
    let stamp = stamp ?? FileOps.timestamp()
    let (masterEnv, sources) = try loadSources()
    let merged = plan(masterEnv: masterEnv, sources: sources)
    if !merged.conflicts.isEmpty {
      let keys = merged.conflicts.map(\.key).joined(separator: ", ")
      throw CtlError(
        .envConflict, "conflicting values for \(keys); pass --prefer FILE to say whose value wins (nothing was changed)"
      )
    }
    var report = merged.report
    // Backups first: if anything below fails, every original is still there.
    if FileOps.exists(master) {
      let backup = try FileOps.backUp(master, stamp: stamp, holdsSecret: masterEnv.holdsSecret)
      report.backups.append((master, backup))
    }
    for source in sources {
      let backup = try FileOps.backUp(source.path, stamp: stamp, holdsSecret: source.env.holdsSecret)
      report.backups.append((source.path, backup))
    }
    try merged.env.save(master)
    for source in sources {
      try FileOps.replaceWithSymlink(source.path, to: master)
      report.linked.append(source.path)
    }
    return report
  }

  private func loadSources() throws(CtlError) -> (EnvFile, [Source]) {
    let masterTarget = FileOps.resolved(master)
    for file in prefer where !files.contains(file) && file != master {
      throw CtlError(.badInput, "--prefer \(file) is not one of the files to consolidate; name it as an input too")
    }
    var sources: [Source] = []
    var seen = Set<String>()
    for file in files {
      guard FileManager.default.fileExists(atPath: file) else {
        throw CtlError(.badInput, "\(file) does not exist; list only existing .env files")
      }
      guard !FileOps.isDirectory(file) else { throw CtlError(.badInput, "\(file) is a folder; list .env files") }
      if file == master || FileOps.resolved(file) == masterTarget {
        continue  // MASTER itself, or already a link to it
      }
      guard seen.insert(file).inserted else { continue }
      sources.append(Source(path: file, env: try EnvFile.load(file)))
    }
    return (try EnvFile.load(master), sources)
  }

  private struct Plan {
    var env: EnvFile
    var conflicts: [Conflict]
    var report: Report
  }

  private func plan(masterEnv: EnvFile, sources: [Source]) -> Plan {
    var report = Report(master: master)
    report.alreadyLinked = files.filter {
      $0 != master && FileOps.isSymlink($0) && FileOps.resolved($0) == FileOps.resolved(master)
    }
    let all = [Source(path: master, env: masterEnv)] + sources
    var env = masterEnv
    var conflicts: [Conflict] = []

    // Union of the keys in order: MASTER's first, then each file's new ones.
    var order: [String] = []
    var seen = Set<String>()
    for source in all {
      for key in source.env.keys where !EnvConsolidator.tokenKeys.contains(key) && seen.insert(key).inserted {
        order.append(key)
      }
    }
    var appendedFrom: [String: [String]] = [:]  // file -> keys appended from it
    for key in order {
      let holders = all.compactMap { source in source.env.entry(key).map { (source: source, entry: $0) } }
      var distinct: [(file: String, value: String)] = []
      for holder in holders where !distinct.contains(where: { $0.value == holder.entry.value }) {
        distinct.append((holder.source.path, holder.entry.value))
      }
      var winner = holders[0]
      if distinct.count > 1 {
        guard let preferred = preferredHolder(holders.map { ($0.source.path, $0) }) else {
          conflicts.append(Conflict(key: key, values: distinct))
          continue
        }
        winner = preferred
        report.settled.append((key, winner.source.path))
      }
      let inMaster = masterEnv.entry(key) != nil
      if inMaster && masterEnv.value(key) == winner.entry.value && masterEnv.duplicateKeys.contains(key) == false {
        continue  // already right, left byte for byte
      }
      if inMaster {
        env.setRaw(winner.entry)
      } else {
        appendedFrom[winner.source.path, default: []].append(key)
        report.added.append((key, winner.source.path))
      }
    }
    // New keys go at the end, grouped by the file they came from, with the comments that stood above them.
    for source in sources {
      guard let keys = appendedFrom[source.path], !keys.isEmpty else { continue }
      env.appendText(["", "# from \(source.path) (comfyctl env consolidate)"])
      for key in keys {
        env.appendText(source.env.comments(above: key))
        env.setRaw(source.env.entry(key)!)
      }
    }
    if let token = settleToken(all, report: &report, conflicts: &conflicts) {
      // Standardised: both names, the same value, single-quoted so Compose keeps the `$` signs.
      for key in EnvConsolidator.tokenKeys { env.set(key, token) }
    }
    return Plan(env: env, conflicts: conflicts, report: report)
  }

  /// The token all files should carry: the store's when there is one, else the one value the files
  /// agree on (or the preferred file's). nil when no file has a token, or on an unsettled conflict.
  private func settleToken(_ all: [Source], report: inout Report, conflicts: inout [Conflict]) -> String? {
    var found: [(file: String, value: String)] = []
    for source in all {
      for key in EnvConsolidator.tokenKeys {
        if let value = source.env.value(key), !found.contains(where: { $0.file == source.path && $0.value == value }) {
          found.append((source.path, value))
        }
      }
    }
    var distinct: [(file: String, value: String)] = []
    for item in found where !distinct.contains(where: { $0.value == item.value }) { distinct.append(item) }
    if let storeToken {
      if distinct.contains(where: { $0.value != storeToken }) {
        report.settled.append(("COMFYUI_*_TOKEN", "the secrets store"))
      }
      return storeToken
    }
    if distinct.isEmpty { return nil }
    if distinct.count == 1 { return distinct[0].value }
    for file in prefer {
      if let hit = found.first(where: { $0.file == file }) {
        report.settled.append(("COMFYUI_*_TOKEN", file))
        return hit.value
      }
    }
    conflicts.append(Conflict(key: EnvConsolidator.tokenKeys.joined(separator: "/"), values: distinct))
    return nil
  }

  private func preferredHolder<T>(_ holders: [(String, T)]) -> T? {
    for file in prefer {
      if let hit = holders.first(where: { $0.0 == file }) { return hit.1 }
    }
    return nil
  }

  /// Values of keys that look secret are shown masked in messages.
  public static func display(key: String, value: String) -> String {
    guard SecretKey.isSecret(key) else { return value }
    return value.isEmpty ? "(empty)" : "(\(value.count) characters, hidden)"
  }
}
