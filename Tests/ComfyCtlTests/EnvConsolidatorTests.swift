// `comfyctl env consolidate`: union of keys, conflicts, --prefer, token standardisation, backups,
// symlinks, and the promise that every key and value of the inputs is still reachable afterwards.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct EnvConsolidatorTests {
  static let tokenA = "$2b$12$AAAAAAAAAAAAAAAAAAAAAOvLsNnvB3e4w4bC8d9qZ2m1y0x5w6v7u"
  static let tokenB = "$2b$12$BBBBBBBBBBBBBBBBBBBBBOvLsNnvB3e4w4bC8d9qZ2m1y0x5w6v7u"

  /// Every (file, key, value) the inputs held, as Compose read them.
  typealias Snapshot = [(file: String, key: String, value: String, shadowed: Bool)]

  func snapshot(_ paths: [String]) throws -> Snapshot {
    var result: Snapshot = []
    for path in paths where FileManager.default.fileExists(atPath: path) {
      let env = try EnvFile.load(path)
      for entry in env.entries {
        result.append((path, entry.key, entry.value, env.value(entry.key) != entry.value))
      }
    }
    return result
  }

  /// The heart of the feature: after consolidating, each input value is either what MASTER (and so
  /// every linked file) says, or kept in that file's backup, which the report names.
  func expectEverythingReachable(_ before: Snapshot, _ report: EnvConsolidator.Report) throws {
    let master = try EnvFile.load(report.master)
    #expect(master.duplicateKeys.isEmpty)
    for item in before {
      if master.value(item.key) == item.value { continue }
      let backup = try #require(report.backups.first { $0.original == item.file }?.backup, "no backup of \(item.file)")
      let saved = try EnvFile.load(backup)
      #expect(
        saved.entries.contains { $0.key == item.key && $0.value == item.value },
        "\(item.key)=\(item.value) from \(item.file) is neither in MASTER nor in \(backup)")
    }
    for path in report.linked {
      #expect(FileOps.isSymlink(path))
      #expect(try EnvFile.load(path) == master)
    }
  }

  @Test func mergesTheUnionIntoMasterAndLinksTheOthers() throws {
    let dir = CtlTempDir("cons-union")
    dir.write(".env", "# master\nA=1\nSHARED=same\n")
    dir.write("app/.env", "B=2\nSHARED=same\n")
    dir.write("tools/client.env", "# the client's key\nC='three $x'\n")
    let inputs = [dir.file(".env"), dir.file("app/.env"), dir.file("tools/client.env")]
    let originals = inputs.map { dir.read(String($0.dropFirst(dir.path.count + 1))) }
    let before = try snapshot(inputs)

    let report = try EnvConsolidator(master: dir.file(".env"), files: Array(inputs.dropFirst())).run(stamp: "T")
    try expectEverythingReachable(before, report)
    #expect(before.allSatisfy { item in (try? EnvFile.load(report.master))?.value(item.key) == item.value })

    let master = dir.read(".env")
    #expect(master.hasPrefix("# master\nA=1\nSHARED=same\n"))
    #expect(master.contains("# the client's key\nC='three $x'\n"))  // moved verbatim, comment along
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("app/.env")) == "../.env")
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("tools/client.env")) == "../.env")
    // Byte-exact backups of every original, MASTER included.
    for (path, original) in zip(inputs, originals) {
      #expect(try String(contentsOfFile: path + ".bak-T", encoding: .utf8) == original)
    }
  }

  @Test func duplicatesCollapseToTheValueComposeUsed() throws {
    let dir = CtlTempDir("cons-dup")
    dir.write(".env", "A=1\nA=2\n")
    dir.write("b.env", "B=x\nB=y\nA=2\n")
    let inputs = [dir.file(".env"), dir.file("b.env")]
    let before = try snapshot(inputs)
    let report = try EnvConsolidator(master: inputs[0], files: [inputs[1]]).run()
    try expectEverythingReachable(before, report)
    let master = try EnvFile.load(inputs[0])
    #expect(master.value("A") == "2")
    #expect(master.value("B") == "y")
    #expect(master.duplicateKeys.isEmpty)
  }

  @Test func aConflictStopsBeforeAnythingChanges() throws {
    let dir = CtlTempDir("cons-conflict")
    dir.write(".env", "PORT=8188\nKEEP=1\n")
    dir.write("b.env", "PORT=9000\n")
    let consolidator = EnvConsolidator(master: dir.file(".env"), files: [dir.file("b.env")])
    let conflicts = try consolidator.conflicts()
    #expect(conflicts.map(\.key) == ["PORT"])
    #expect(conflicts[0].values.map(\.value) == ["8188", "9000"])
    let error = #expect(throws: CtlError.self) { try consolidator.run() }
    #expect(error?.code == .envConflict)
    #expect(dir.read(".env") == "PORT=8188\nKEEP=1\n")
    #expect(dir.read("b.env") == "PORT=9000\n")
    #expect(!FileOps.isSymlink(dir.file("b.env")))
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".bak-") }
    #expect(leftovers.isEmpty)
  }

  @Test func preferSettlesAConflictAndTheLoserStaysInItsBackup() throws {
    let dir = CtlTempDir("cons-prefer")
    dir.write(".env", "PORT=8188\n")
    dir.write("b.env", "PORT=9000\nONLY_B=yes\n")
    let inputs = [dir.file(".env"), dir.file("b.env")]
    let before = try snapshot(inputs)
    let report = try EnvConsolidator(master: inputs[0], files: [inputs[1]], prefer: [inputs[1]]).run()
    try expectEverythingReachable(before, report)
    #expect(try EnvFile.load(inputs[0]).value("PORT") == "9000")
    #expect(report.settled.map(\.key) == ["PORT"])
    let masterBackup = try #require(report.backups.first { $0.original == inputs[0] }?.backup)
    #expect(try EnvFile.load(masterBackup).value("PORT") == "8188")
  }

  @Test func tokenNamesAreStandardisedToBothKeysSingleQuoted() throws {
    let dir = CtlTempDir("cons-token")
    dir.write(".env", "COMFYUI_API_TOKEN='\(EnvConsolidatorTests.tokenA)'\n")
    dir.write("client.env", "COMFYUI_BEARER_TOKEN='\(EnvConsolidatorTests.tokenA)'\n")
    let report = try EnvConsolidator(master: dir.file(".env"), files: [dir.file("client.env")]).run()
    let master = try EnvFile.load(report.master)
    #expect(master.value("COMFYUI_API_TOKEN") == EnvConsolidatorTests.tokenA)
    #expect(master.value("COMFYUI_BEARER_TOKEN") == EnvConsolidatorTests.tokenA)
    #expect(dir.read(".env").contains("COMFYUI_BEARER_TOKEN='\(EnvConsolidatorTests.tokenA)'"))
  }

  @Test func differingTokensConflictUnlessTheStoreOrPreferSettlesThem() throws {
    let dir = CtlTempDir("cons-tokens")
    dir.write(".env", "COMFYUI_API_TOKEN='\(EnvConsolidatorTests.tokenA)'\n")
    dir.write("old.env", "COMFYUI_BEARER_TOKEN='\(EnvConsolidatorTests.tokenB)'\n")
    let inputs = [dir.file(".env"), dir.file("old.env")]
    let plain = EnvConsolidator(master: inputs[0], files: [inputs[1]])
    #expect(try plain.conflicts().map(\.key) == ["COMFYUI_BEARER_TOKEN/COMFYUI_API_TOKEN"])

    // The secrets store is the source of truth: its token wins, the stale one stays in the backup.
    let before = try snapshot(inputs)
    let report = try EnvConsolidator(master: inputs[0], files: [inputs[1]], storeToken: EnvConsolidatorTests.tokenA)
      .run()
    try expectEverythingReachable(before, report)
    let master = try EnvFile.load(inputs[0])
    #expect(master.value("COMFYUI_BEARER_TOKEN") == EnvConsolidatorTests.tokenA)
    #expect(master.value("COMFYUI_API_TOKEN") == EnvConsolidatorTests.tokenA)
  }

  @Test func linkedFilesAreSkippedAndASecondRunChangesNothing() throws {
    let dir = CtlTempDir("cons-again")
    dir.write(".env", "A=1\n")
    dir.write("b.env", "B=2\n")
    _ = try EnvConsolidator(master: dir.file(".env"), files: [dir.file("b.env")]).run(stamp: "1")
    let after = dir.read(".env")
    let again = try EnvConsolidator(master: dir.file(".env"), files: [dir.file("b.env")]).run(stamp: "2")
    #expect(again.linked.isEmpty)
    #expect(again.alreadyLinked == [dir.file("b.env")])
    #expect(dir.read(".env") == after)
  }

  @Test func aMasterThatIsALinkToAnInputMakesNoLoop() throws {
    let dir = CtlTempDir("cons-loop")
    dir.write("config/real.env", "A=1\n")
    dir.write("other.env", "B=2\n")
    try FileManager.default.createSymbolicLink(atPath: dir.file(".env"), withDestinationPath: "config/real.env")
    let report = try EnvConsolidator(
      master: dir.file(".env"), files: [dir.file("config/real.env"), dir.file("other.env")]
    ).run()
    #expect(report.linked == [dir.file("other.env")])
    #expect(!FileOps.isSymlink(dir.file("config/real.env")))
    #expect(FileOps.isSymlink(dir.file(".env")))
    #expect(dir.read("config/real.env").contains("B=2"))
  }

  @Test func aSymlinkedInputIsBackedUpByContent() throws {
    let dir = CtlTempDir("cons-symin")
    dir.write(".env", "A=1\n")
    dir.write("shared/team.env", "T=team\n")
    try FileManager.default.createSymbolicLink(atPath: dir.file("app.env"), withDestinationPath: "shared/team.env")
    let before = try snapshot([dir.file(".env"), dir.file("app.env")])
    let report = try EnvConsolidator(master: dir.file(".env"), files: [dir.file("app.env")]).run()
    try expectEverythingReachable(before, report)
    #expect(dir.read("shared/team.env") == "T=team\n")  // the link's old target is left alone
    #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.file("app.env")) == ".env")
  }

  @Test func aMissingInputIsAClearError() {
    let dir = CtlTempDir("cons-missing")
    let error = #expect(throws: CtlError.self) {
      try EnvConsolidator(master: dir.file(".env"), files: [dir.file("nope.env")]).run()
    }
    #expect(error?.code == .badInput)
  }

  @Test func aMasterHoldingTheTokenEndsPrivateAndSoDoTheBackupsOfTokens() throws {
    let dir = CtlTempDir("cons-mode")
    dir.write(".env", "PORT=1\n")
    dir.write("client.env", "COMFYUI_API_TOKEN='\(EnvConsolidatorTests.tokenA)'\n")
    dir.write("plain.env", "B=2\n")
    for name in [".env", "client.env", "plain.env"] { chmod(dir.file(name), 0o644) }
    _ = try EnvConsolidator(master: dir.file(".env"), files: [dir.file("client.env"), dir.file("plain.env")]).run(
      stamp: "T")
    #expect(mode(of: dir.file(".env")) == 0o600)
    #expect(mode(of: dir.file("client.env.bak-T")) == 0o600)
    #expect(mode(of: dir.file(".env.bak-T")) == 0o644)  // no secret in it: kept as it was
    #expect(mode(of: dir.file("plain.env.bak-T")) == 0o644)
  }

  @Test func secretValuesAreMaskedInMessages() {
    #expect(EnvConsolidator.display(key: "COMFYUI_API_TOKEN", value: EnvConsolidatorTests.tokenA).contains("hidden"))
    #expect(EnvConsolidator.display(key: "PORT", value: "8188") == "8188")
  }
}
