// The status file's writes swap names instead of renaming over (issue 9): what readers and the
// folder see afterwards must be what a rename would have left.
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct StateFileTests {
  private func withStateDir(_ body: (HomeLayout) throws -> Void) throws {
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: home) }
    let layout = HomeLayout(home: home, venv: home + "/venv")
    try FileManager.default.createDirectory(atPath: layout.stateDir, withIntermediateDirectories: true)
    try body(layout)
  }

  @Test func aStatusWriteReplacesTheOldOneAndLeavesNoTemporaryFileBehind() throws {
    try withStateDir { layout in
      let reporter = PhaseReporter(layout)
      reporter.report(.venv, detail: "first")
      reporter.report(.serving, detail: "second", pid: 4242)
      #expect(try FileManager.default.contentsOfDirectory(atPath: layout.stateDir) == ["status"])
      let status = Status.read(layout)
      #expect(status?.phase == .serving)
      #expect(status?.detail == "second")
      #expect(status?.pid == 4242)
      let mode = try FileManager.default.attributesOfItem(atPath: layout.statusFile)[.posixPermissions] as? Int
      #expect(mode == 0o644)
    }
  }

  @Test func aFolderWhereTheStatusBelongsIsMovedAsideNotSwappedIn() throws {
    try withStateDir { layout in
      try FileManager.default.createDirectory(atPath: layout.statusFile, withIntermediateDirectories: false)
      FileManager.default.createFile(atPath: layout.statusFile + "/kept", contents: Data("x".utf8))
      PhaseReporter(layout).report(.lock)
      #expect(Status.read(layout)?.phase == .lock)
      #expect(FileManager.default.fileExists(atPath: layout.statusFile + ".broken/kept"))
      let names = try FileManager.default.contentsOfDirectory(atPath: layout.stateDir).sorted()
      #expect(names == ["status", "status.broken"])
    }
  }
}
