// COMFYUI_STATE_DIR (issue 13): the state a start writes moves to one folder that a tmpfs or an emptyDir
// can cover, and a home from before converges into it without redoing work or changing the token.
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct StateDirTests {
  @Test func aHomeFromBeforeTheStateFolderConvergesWithoutGitAndKeepsItsToken() throws {
    let h = ComfyHome()
    let cold = try h.bootstrap()
    try #require(cold.status == 0, "\(cold.stderr)")
    let token = h.token
    #expect(!token.isEmpty)
    let legacy = HomeLayout(home: h.home, venv: h.home + "/venv")

    h.resetCalls()
    let state = h.tmp.path + "/state"
    let moved = try h.bootstrap(["COMFYUI_STATE_DIR": state])
    #expect(moved.status == 0, "\(moved.stderr)")
    #expect(moved.stderr.contains("state: took over 2 stamps from \(legacy.legacyStateDir)"), "\(moved.stderr)")
    // The stamps were taken over, so the checkouts were not asked with git.
    #expect(!h.recordedCalls.contains { $0.hasPrefix("git") }, "\(h.recordedCalls)")
    let layout = HomeLayout(home: h.home, venv: h.home + "/venv", stateDir: state)
    for path in [layout.comfyCheckoutStamp, layout.nodeCheckoutStamp("ComfyUI-Login"), layout.lockFile] {
      #expect(FileManager.default.fileExists(atPath: path), "\(path)")
    }
    // The old login/ folder is a folder still, and its PASSWORD (the token) is the one kept.
    var st = stat()
    #expect(lstat(layout.loginDir, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR)
    #expect(h.token == token)
    #expect(moved.stderr.contains("auth: login/PASSWORD unchanged"), "\(moved.stderr)")
  }

  @Test func aLoginLinkIntoAnEmptyStateFolderGetsItsFolderAndThePassword() throws {
    let h = ComfyHome()
    let cold = try h.bootstrap()
    try #require(cold.status == 0, "\(cold.stderr)")
    // As the image has it: ComfyUI/login is a link into a state folder that starts empty (a tmpfs).
    let state = h.tmp.path + "/run/comfy-init"
    let layout = HomeLayout(home: h.home, venv: h.home + "/venv", stateDir: state)
    try FileManager.default.removeItem(atPath: layout.loginDir)
    try FileManager.default.createSymbolicLink(atPath: layout.loginDir, withDestinationPath: layout.stateLoginDir)
    let start = try h.bootstrap(["COMFYUI_STATE_DIR": state])
    #expect(start.status == 0, "\(start.stderr)")
    #expect(FileManager.default.fileExists(atPath: layout.stateLoginDir + "/PASSWORD"))
    #expect(!h.token.isEmpty)
  }

  @Test func aRelativeStateFolderIsRefusedBeforeAnythingIsWritten() throws {
    let h = ComfyHome()
    let run = try h.bootstrap(["COMFYUI_STATE_DIR": "state"])
    #expect(run.status == 10, "\(run.stderr)")
    #expect(run.stderr.contains("COMFYUI_STATE_DIR='state' must be an absolute path"), "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: h.home))
  }
}
