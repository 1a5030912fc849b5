// Issue 18's "also fix" list for ComfyUI-Login's own files: a pinned node holds the commit's files at
// every start (not only its HEAD), login/GUEST_MODE goes unless asked for, and the session key is the
// server's secret alone and changes with the password.
import Foundation
import Testing

@testable import ComfyInitKit

private func gitCalls(_ h: ComfyHome) -> [String] { h.recordedCalls.filter { $0.hasPrefix("git ") } }

/// The mode bits of `path` (not following a link); nil when absent.
private func mode(_ path: String) -> mode_t? {
  var st = stat()
  return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : nil
}

@Suite(.serialized) struct LoginNodeTests {
  /// A volume whose ComfyUI-Login was changed without moving HEAD: a tracked file edited in place (same
  /// size, its modification time put back), an untracked package that Python imports instead of
  /// `password.py`, an ignored extension module that Python would try first. The stamp still matches
  /// `.git/HEAD`; the start must find all three, stash them and serve with auth. The node's run-time
  /// files stay, and a warm start with them runs no git.
  @Test func aPinnedNodesEditedUntrackedAndIgnoredFilesAreStashedAndRunTimeFilesKept() throws {
    let h = ComfyHome()
    let first = try h.start(label: "first")
    #expect(h.waitUntilServing(first), "\(first.log)")
    first.signal(SIGTERM)
    #expect(first.wait(timeout: 10)?.status == 0, "\(first.log)")
    let login = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login"
    let key = login + "/.secret-key.txt"
    let keyText = try String(contentsOfFile: key, encoding: .utf8)
    // The server ran: Python wrote its byte code into the node. Neither it nor the key costs a git run.
    let cache = try #require(
      try FileManager.default.subpathsOfDirectory(atPath: login).first { $0.hasSuffix("__pycache__") },
      "the server wrote no __pycache__ into the node")
    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0, "\(warm.stderr)")
    #expect(gitCalls(h) == [], "a warm start with only run-time files ran git: \(h.recordedCalls)")

    // The same bytes' length and modification time: only the change time tells.
    let readme = login + "/README.md"
    let original = try String(contentsOfFile: readme, encoding: .utf8)
    var before = stat()
    #expect(stat(readme, &before) == 0)
    try String(repeating: "X", count: original.utf8.count).write(toFile: readme, atomically: false, encoding: .utf8)
    var times = [before.st_atim, before.st_mtim]
    #expect(utimensat(AT_FDCWD, readme, &times, 0) == 0)
    try FileManager.default.createDirectory(atPath: login + "/password", withIntermediateDirectories: true)
    try "# guards nothing\n".write(toFile: login + "/password/__init__.py", atomically: false, encoding: .utf8)
    // Ignored, as ComfyUI-Login's .gitignore ignores *.so (here through the checkout's own exclude file).
    try "*.so\n".write(toFile: login + "/.git/info/exclude", atomically: false, encoding: .utf8)
    try "not an ELF file".write(toFile: login + "/password.so", atomically: false, encoding: .utf8)
    let ignored = try git(["-C", login, "status", "--porcelain", "--ignored"])
    #expect(ignored.contains("!! password.so"), "git does not see password.so as ignored: \(ignored)")

    h.resetCalls()
    let server = try h.start(label: "second")
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(try curl(h.baseURL + "/system_stats").status == 401, "served without auth: \(server.log)")
    #expect(server.log.contains("custom node ComfyUI-Login at \(login) has local changes"), "\(server.log)")
    #expect(server.log.contains("files that are not the commit's:"), "\(server.log)")
    #expect(server.log.contains("local changes saved with `git stash`"), "\(server.log)")
    #expect(try String(contentsOfFile: readme, encoding: .utf8) == original)
    for planted in ["password/__init__.py", "password.so"] {
      #expect(!FileManager.default.fileExists(atPath: login + "/" + planted), "\(planted) is still there")
    }
    let stashed = try git(["-C", login, "stash", "show", "--include-untracked", "--name-only", "stash@{0}"])
    for name in ["README.md", "password/__init__.py", "password.so"] {
      #expect(stashed.contains(name), "\(name) was not stashed: \(stashed)")
    }
    // The run-time files stayed where they were.
    #expect(FileManager.default.fileExists(atPath: login + "/" + cache), "\(cache) was stashed")
    #expect(!stashed.contains("__pycache__") && !stashed.contains(".secret-key.txt"), "\(stashed)")
    #expect(try String(contentsOfFile: key, encoding: .utf8) == keyText, "the session key changed")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0, "\(server.log)")

    // Converged: the next start asks git nothing.
    h.resetCalls()
    let again = try h.bootstrap()
    #expect(again.status == 0, "\(again.stderr)")
    #expect(gitCalls(h) == [], "\(h.recordedCalls)")
  }

  @Test func guestModeIsRemovedAtStartUnlessAskedFor() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let guestMode = h.home + "/ComfyUI/login/GUEST_MODE"
    // The server's uid left the switch behind (the volume keeps it).
    try "".write(toFile: guestMode, atomically: false, encoding: .utf8)
    let removed = try h.bootstrap()
    #expect(removed.status == 0, "\(removed.stderr)")
    #expect(!FileManager.default.fileExists(atPath: guestMode))
    #expect(removed.stderr.contains("auth: removed \(guestMode): it lets anyone in as a guest"), "\(removed.stderr)")

    // Asked for: made, then kept.
    let made = try h.bootstrap(["COMFYUI_GUEST_MODE": "1"])
    #expect(made.status == 0, "\(made.stderr)")
    #expect(FileManager.default.fileExists(atPath: guestMode), "\(made.stderr)")
    let kept = try h.bootstrap(["COMFYUI_GUEST_MODE": "1"])
    #expect(kept.status == 0 && FileManager.default.fileExists(atPath: guestMode), "\(kept.stderr)")

    // The image's layout: ComfyUI/login links into the state folder. A folder counts as the switch
    // too (ComfyUI-Login asks os.path.exists): it is moved aside, never deleted.
    let login = h.home + "/ComfyUI/login"
    let state = h.tmp.path + "/state"
    try FileManager.default.moveItem(atPath: login, toPath: h.tmp.path + "/old-login")
    #expect(symlink(state + "/login", login) == 0)
    try FileManager.default.createDirectory(atPath: state + "/login/GUEST_MODE", withIntermediateDirectories: true)
    let linked = try h.bootstrap(["COMFYUI_STATE_DIR": state])
    #expect(linked.status == 0, "\(linked.stderr)")
    #expect(!FileManager.default.fileExists(atPath: state + "/login/GUEST_MODE"), "\(linked.stderr)")
    #expect(FileManager.default.fileExists(atPath: state + "/login/GUEST_MODE.broken"), "\(linked.stderr)")
  }

  /// ComfyUI-Login's session key (its cookies' encryption key): 0600, never readable by others, and
  /// a new one when the password changes, so that a session from before a rotation ends.
  @Test func theSessionKeyIsTheServersAloneAndChangesWithThePassword() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let key = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login/.secret-key.txt"
    #expect(mode(key) == 0o600, "\(String(mode(key) ?? 0, radix: 8))")
    // In ComfyUI-Login's format: a Fernet key and the time it was made, as its Python reads them back.
    let check = try runProcess(
      [
        h.home + "/venv/bin/python", "-c",
        "import base64, datetime, sys; k, t = open(sys.argv[1]).read().split(','); "
          + "assert len(base64.urlsafe_b64decode(k)) == 32; "
          + "assert abs((datetime.datetime.now() - datetime.datetime.fromisoformat(t)).total_seconds()) < 600",
        key,
      ], environment: baseEnvironment())
    #expect(check.status == 0, "\(check.stderr)")
    let firstKey = try String(contentsOfFile: key, encoding: .utf8)

    // Made readable by ComfyUI-Login's own write (the umask's 0644): put back to 0600, the key kept.
    chmod(key, 0o644)
    let kept = try h.bootstrap()
    #expect(kept.status == 0, "\(kept.stderr)")
    #expect(mode(key) == 0o600)
    #expect(try String(contentsOfFile: key, encoding: .utf8) == firstKey)
    #expect(kept.stderr.contains("session key, was readable by others"), "\(kept.stderr)")

    // A new password: a new key, so every earlier session ends.
    let rotated = try h.bootstrap(["COMFYUI_PASSWORD": "a rotated password"])
    #expect(rotated.status == 0, "\(rotated.stderr)")
    #expect(mode(key) == 0o600)
    #expect(try String(contentsOfFile: key, encoding: .utf8) != firstKey, "\(rotated.stderr)")
    #expect(rotated.stderr.contains("new session key"), "\(rotated.stderr)")
  }

  @Test func theKeyIsInPythonsURLSafeBase64() {
    #expect(LoginNodeFiles.urlSafeBase64(Array("f".utf8)) == "Zg==")
    #expect(LoginNodeFiles.urlSafeBase64(Array("fo".utf8)) == "Zm8=")
    #expect(LoginNodeFiles.urlSafeBase64(Array("foo".utf8)) == "Zm9v")
    #expect(LoginNodeFiles.urlSafeBase64([0xfb, 0xff, 0xbf]) == "-_-_")
    #expect(LoginNodeFiles.urlSafeBase64([UInt8](repeating: 0, count: 32)).count == 44)
  }
}
