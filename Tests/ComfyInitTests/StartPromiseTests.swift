// README's promises about a start, each against the real binary: ComfyUI-Login at a ref that cannot
// be fetched, a custom-node URL that is an option, `venv.broken-2`, COMFYUI_STOP_SIGNAL and the exits
// 126/127 of `run`, and read-only `user`, `output`, `input` folders (in a mount namespace).
import Foundation
import Testing

@testable import ComfyInitKit

@Suite(.serialized) struct StartPromiseTests {
  /// README ("Bad input"): ComfyUI-Login at another ref whose pinned ref cannot be fetched stops the
  /// start before the server starts: 18 (a custom node could not be had), or 17 when COMFYUI_OFFLINE=1
  /// forbids the fetch. The checkout is left where it was.
  @Test func loginAtAnotherRefThatCannotBeFetchedStopsTheStart() throws {
    let h = ComfyHome()
    let copy = h.tmp.path + "/login-copy"
    _ = try git(["clone", "--quiet", StandinRepos.dir + "/login-src", copy])
    h.extra["COMFYUI_LOGIN_REPO"] = "file://" + copy
    let first = try h.bootstrap()
    try #require(first.status == 0, "\(first.stderr)")
    let login = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login"
    let before = try git(["-C", login, "rev-parse", "HEAD"])
    // The repository is gone (a network that does not answer), and the pin moves to another ref.
    try FileManager.default.moveItem(atPath: copy, toPath: copy + ".unreachable")
    h.extra["COMFYUI_LOGIN_REF"] = "v2-standin"

    let online = try runProcess([Paths.comfyInit, "bootstrap"], environment: h.environment, timeout: 60)
    #expect(online.status == 18, "\(online.stderr)")
    #expect(
      online.stderr.contains(
        "ComfyUI-Login must be at v2-standin before the server starts: check the network and the URL"),
      "\(online.stderr)")
    #expect(try git(["-C", login, "rev-parse", "HEAD"]) == before)

    // Offline, with a repository only the network has: COMFYUI_OFFLINE=1's own code.
    h.extra["COMFYUI_LOGIN_REPO"] = "https://127.0.0.1:9/ComfyUI-Login.git"
    h.extra["COMFYUI_OFFLINE"] = "1"
    let offline = try runProcess([Paths.comfyInit, "bootstrap"], environment: h.environment, timeout: 60)
    #expect(offline.status == 17, "\(offline.stderr)")
    #expect(offline.stderr.contains("COMFYUI_OFFLINE=1 forbids fetching"), "\(offline.stderr)")
    #expect(try git(["-C", login, "rev-parse", "HEAD"]) == before)
  }

  /// A custom-node URL that starts with "-" would be an option to git (`--upload-pack=CMD` runs CMD):
  /// refused as configuration (10) before anything is cloned, and the command never runs.
  @Test func aCustomNodeURLThatIsAnOptionIsRefusedBeforeAnyClone() throws {
    let h = ComfyHome()
    let pwned = h.tmp.path + "/pwned"
    let spec = "--upload-pack=touch \(pwned)"
    let result = try runProcess(
      [Paths.comfyInit, "bootstrap"], environment: h.environment.merging(["COMFYUI_CUSTOM_NODES": spec]) { $1 },
      timeout: 60)
    #expect(result.status == 10, "\(result.stderr)")
    #expect(
      result.stderr.contains(
        "COMFYUI_CUSTOM_NODES='\(spec)' is not a repository URL; use https://host/owner/repo.git or a local path"),
      "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: pwned))
    #expect(!h.recordedCalls.contains { $0.hasPrefix("git") }, "git ran: \(h.recordedCalls)")
    #expect(!FileManager.default.fileExists(atPath: h.home + "/ComfyUI"))
  }

  /// A broken venv goes to `venv.broken`, or the next free `venv.broken-2`, ...: an earlier one is kept.
  @Test func aSecondBrokenVenvGoesToVenvBroken2() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    let fm = FileManager.default
    try fm.createDirectory(atPath: h.home + "/venv.broken", withIntermediateDirectories: true)
    try "the first broken venv\n".write(toFile: h.home + "/venv.broken/keep", atomically: true, encoding: .utf8)
    // A venv whose python is gone: pyvenv.cfg and nothing else.
    try fm.createDirectory(atPath: h.home + "/venv", withIntermediateDirectories: true)
    try "home = /nonexistent/bin\n".write(toFile: h.home + "/venv/pyvenv.cfg", atomically: true, encoding: .utf8)

    let result = try h.bootstrap()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("moved it to \(h.home)/venv.broken-2 and building a new one"), "\(result.stderr)")
    #expect(try String(contentsOfFile: h.home + "/venv.broken/keep", encoding: .utf8) == "the first broken venv\n")
    #expect(
      try String(contentsOfFile: h.home + "/venv.broken-2/pyvenv.cfg", encoding: .utf8) == "home = /nonexistent/bin\n")
    let check = try runProcess([h.home + "/venv/bin/python", "-c", "import six"], environment: baseEnvironment())
    #expect(check.status == 0, "\(check.stderr)")
  }

  /// COMFYUI_STOP_SIGNAL: what the SIGTERM `run` gets becomes for the server. The stand-in cleans up
  /// on SIGINT only; with SIGTERM it dies by that signal, which is the stop asked for: exit 0.
  @Test func runTurnsSIGTERMIntoTheStopSignal() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    let cleanup = h.tmp.path + "/cleanup"
    let server = try h.start(["COMFYUI_STOP_SIGNAL": "SIGTERM", "STANDIN_CLEANUP_FILE": cleanup])
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/", timeout: 120, while: server) != nil, "\(server.log)")
    server.signal(SIGTERM)
    let end = server.wait(timeout: 20)
    #expect(end?.status == 0 && end?.signaled == false, "\(server.log)")
    #expect(server.log.contains("serve: ComfyUI ended with killed by SIGTERM"), "\(server.log)")
    #expect(!FileManager.default.fileExists(atPath: cleanup), "the server got SIGINT and cleaned up")
  }

  /// `run` exits 127 when the server's program is not found and 126 when it cannot be executed. The
  /// venv's python is replaced after a bootstrap (the venv stays current): a script whose interpreter
  /// does not exist (ENOENT), then one whose interpreter is a folder (EACCES).
  @Test(arguments: [(Int32(127), "#!/nonexistent/python3\n"), (Int32(126), "#!/tmp\n")])
  func runExits126Or127WhenTheServerCannotRun(code: Int32, script: String) throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    try #require(try h.bootstrap().status == 0)
    let python = h.home + "/venv/bin/python"
    try FileManager.default.removeItem(atPath: python)
    try script.write(toFile: python, atomically: false, encoding: .utf8)
    chmod(python, 0o755)
    let result = try runProcess([Paths.comfyInit, "run"], environment: h.environment, timeout: 60)
    #expect(result.status == code, "\(result.stderr)")
    #expect(!result.signaled)
    #expect(result.stderr.contains("cannot run \(python)"), "\(result.stderr)")
    #expect(result.stderr.contains("venv: up to date"), "the venv was repaired instead: \(result.stderr)")
  }

  /// Without PUID too, `run` gives the server a writable HOME and TMPDIR when the inherited ones are
  /// not (the hardened image: a uid without a passwd entry gets HOME=/, a read-only root has no /tmp;
  /// Python's tempfile, which torch calls at import, then raises). Seen in the server's own environment.
  @Test func runGivesTheServerAWritableHomeAndTemporaryFolderWithoutPUID() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    let missing = h.tmp.path + "/not-there"
    let server = try h.start(["HOME": missing + "/home", "TMPDIR": missing + "/tmp"])
    defer { server.stop() }
    #expect(waitForHTTP(h.baseURL + "/", timeout: 120, while: server) != nil, "\(server.log)")
    let pid = try #require(Status.read(HomeLayout(home: h.home))?.pid, "no status: \(server.log)")
    let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
    let variables = Set(environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
    // COMFYUI_HOME when it exists and is writable at that moment, else STATE/home (a first start).
    let home = variables.first { $0.hasPrefix("HOME=") }.map { String($0.dropFirst(5)) } ?? ""
    #expect(home.hasPrefix(h.home) && FileManager.default.isWritableFile(atPath: home), "HOME=\(home)")
    #expect(
      variables.contains("TMPDIR=" + h.home + "/.comfy-init/tmp"), "\(variables.filter { $0.hasPrefix("TMPDIR=") })")
  }
}

/// The places ComfyUI writes (`user`, `output`, `input`; `temp` is HardenedRunTests') on a read-only
/// filesystem stop `run` with exit 12 before the server starts: a read-only bind mount in a private
/// mount namespace (root; CI fails instead of skipping).
@Suite(.serialized, .needs(.root, .tmpfs)) struct ReadOnlyPlacesTests {
  @Test func aReadOnlyUserOutputOrInputStopsRun() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    try #require(try h.bootstrap().status == 0)
    let unshare = PID1.which("unshare")
    let script = """
      mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
      shift
      exec "$@"
      """
    for place in ["user", "output", "input"] {
      let path = h.home + "/ComfyUI/" + place
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
      let result = try runProcess(
        [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", path, Paths.comfyInit, "run"],
        environment: h.environment, timeout: 30)
      try #require(result.status != 99, "cannot mount although this machine can: \(result.stderr)")
      #expect(result.status == 12, "\(place): \(result.stderr)")
      #expect(
        result.stderr.contains(
          "ComfyUI writes to \(path), which is on a read-only filesystem; mount a writable volume there"),
        "\(place): \(result.stderr)")
      #expect(!result.stderr.contains("serve: started"), "\(place): \(result.stderr)")
    }
  }
}
