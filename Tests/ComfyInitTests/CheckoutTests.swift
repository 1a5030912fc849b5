// Issue 10: checkouts at the ref asked for (a commit id, a tag that moved, a ref the clone lacks),
// custom nodes from a list, a venv outside the home or broken, and a warm offline start that runs
// nothing. The shims record every git and Python process comfy-init starts: that is how a test
// sees which path ran.
import Foundation
import Testing

/// The commit a ref names in a repository.
private func commit(of ref: String, in repo: String) throws -> String {
  try git(["-C", repo, "rev-parse", ref + "^{commit}"])
}

/// A writable copy of the stand-in ComfyUI repository (with its tag), for a test that moves refs.
private func comfySource(in tmp: TempDir) throws -> String {
  let dir = tmp.path + "/comfy-src"
  try git(["clone", "--quiet", StandinRepos.dir + "/comfyui.git-src", dir])
  return dir
}

/// A new commit on the source's checked-out branch; returns its id.
private func commitChange(in repo: String, file: String) throws -> String {
  try "changed\n".write(toFile: repo + "/" + file, atomically: true, encoding: .utf8)
  try git(["-C", repo, "add", file])
  try git([
    "-C", repo, "-c", "user.email=test@comfy-init.invalid", "-c", "user.name=test", "-c", "commit.gpgsign=false",
    "commit", "--quiet", "-m", "change \(file)",
  ])
  return try commit(of: "HEAD", in: repo)
}

private func gitCalls(_ h: ComfyHome) -> [String] { h.recordedCalls.filter { $0.hasPrefix("git ") } }

/// Python processes other than the server (`main.py`): the venv's tools and pip.
private func installerCalls(_ h: ComfyHome) -> [String] {
  h.recordedCalls.filter { !$0.hasPrefix("git ") && !$0.contains("main.py") }
}

@Suite(.serialized) struct CheckoutTests {
  @Test func aCommitIdAsTheRefIsClonedWithoutACheckoutAndDetachedAtIt() throws {
    let h = ComfyHome()
    let comfy = try commit(of: StandinRepos.comfyRef, in: StandinRepos.dir + "/comfyui.git-src")
    let login = try commit(of: StandinRepos.loginRef, in: StandinRepos.dir + "/login-src")
    // The full id for ComfyUI, an abbreviated one for the node (as COMFYUI_LOGIN_REF's default is a commit).
    let shortLogin = String(login.prefix(12))
    h.extra["COMFYUI_REF"] = comfy
    h.extra["COMFYUI_LOGIN_REF"] = shortLogin
    let first = try h.bootstrap()
    #expect(first.status == 0, "\(first.stderr)")
    let clones = gitCalls(h).filter { $0.contains(" clone ") }
    #expect(clones.count == 2, "\(clones)")
    for clone in clones {
      // A commit cannot be cloned with --branch: the whole history comes, nothing checked out yet.
      #expect(
        clone.contains(" --no-checkout ") && !clone.contains("--depth") && !clone.contains("--branch"), "\(clone)")
    }
    for ref in [comfy, shortLogin] {
      #expect(gitCalls(h).contains { $0.hasSuffix("checkout --quiet --detach \(ref)") }, "\(ref): \(h.recordedCalls)")
    }
    #expect(try commit(of: "HEAD", in: h.home + "/ComfyUI") == comfy)
    #expect(try commit(of: "HEAD", in: h.home + "/ComfyUI/custom_nodes/ComfyUI-Login") == login)
    #expect(try git(["-C", h.home + "/ComfyUI", "status", "--porcelain", "--untracked-files=no"]) == "")

    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0, "\(warm.stderr)")
    #expect(h.recordedCalls == [], "a warm restart at a commit ran processes: \(h.recordedCalls)")
  }

  @Test func aTagMovedInTheSourceIsFollowedOnlyWithUpdate() throws {
    let h = ComfyHome()
    let source = try comfySource(in: h.tmp)
    h.extra["COMFYUI_REPO"] = "file://" + source
    #expect(try h.bootstrap().status == 0)
    let comfy = h.home + "/ComfyUI"
    let old = try commit(of: "HEAD", in: comfy)
    // The tag is moved to a new commit in the source (a re-tagged release).
    let moved = try commitChange(in: source, file: "moved.txt")
    try git(["-C", source, "tag", "-f", StandinRepos.comfyRef])
    #expect(moved != old)

    // A restart compares the stamp with .git/HEAD and runs no git: the checkout stays where it is.
    h.resetCalls()
    let plain = try h.bootstrap()
    #expect(plain.status == 0, "\(plain.stderr)")
    #expect(gitCalls(h) == [], "\(h.recordedCalls)")
    #expect(try commit(of: "HEAD", in: comfy) == old)

    // COMFYUI_UPDATE=1 fetches the tag and moves the checkout to where it points now.
    h.resetCalls()
    let update = try h.bootstrap(["COMFYUI_UPDATE": "1"])
    #expect(update.status == 0, "\(update.stderr)")
    #expect(
      gitCalls(h).contains { $0.contains(" fetch ") && $0.hasSuffix(StandinRepos.comfyRef) }, "\(h.recordedCalls)")
    #expect(try commit(of: "HEAD", in: comfy) == moved, "\(update.stderr)")
    #expect(FileManager.default.fileExists(atPath: comfy + "/moved.txt"))
    #expect(update.stderr.contains("moved ComfyUI to \(StandinRepos.comfyRef)"), "\(update.stderr)")

    // Converged: the next plain restart runs no git and stays at the moved tag.
    h.resetCalls()
    #expect(try h.bootstrap().status == 0)
    #expect(gitCalls(h) == [], "\(h.recordedCalls)")
    #expect(try commit(of: "HEAD", in: comfy) == moved)
  }

  @Test func aCheckoutAtAnotherRefIsLeftAloneThenFetchedWithUpdate() throws {
    let h = ComfyHome()
    let source = try comfySource(in: h.tmp)
    h.extra["COMFYUI_REPO"] = "file://" + source
    #expect(try h.bootstrap().status == 0)
    let comfy = h.home + "/ComfyUI"
    let old = try commit(of: "HEAD", in: comfy)
    // A newer release the shallow clone has never seen.
    let newer = try commitChange(in: source, file: "newer.txt")
    try git(["-C", source, "tag", "v0.8.1-standin"])
    h.extra["COMFYUI_REF"] = "v0.8.1-standin"

    h.resetCalls()
    let alone = try h.bootstrap()
    #expect(alone.status == 0, "\(alone.stderr)")
    #expect(
      alone.stderr.contains(
        "ComfyUI at \(comfy) is at \(old.prefix(12)), not v0.8.1-standin; left alone (set COMFYUI_UPDATE=1"),
      "\(alone.stderr)")
    #expect(!gitCalls(h).contains { $0.contains(" fetch ") }, "left alone means no network: \(h.recordedCalls)")
    #expect(try commit(of: "HEAD", in: comfy) == old)

    // The stamp now says "diverged": the next start warns again without running git.
    h.resetCalls()
    let again = try h.bootstrap()
    #expect(again.status == 0 && again.stderr.contains("left alone"), "\(again.stderr)")
    #expect(gitCalls(h) == [], "\(h.recordedCalls)")

    h.resetCalls()
    let update = try h.bootstrap(["COMFYUI_UPDATE": "1"])
    #expect(update.status == 0, "\(update.stderr)")
    #expect(
      gitCalls(h).contains { $0.contains(" fetch --quiet -- file://\(source) v0.8.1-standin") }, "\(h.recordedCalls)")
    #expect(try commit(of: "HEAD", in: comfy) == newer)
    #expect(
      update.stderr.contains("ComfyUI: moved \(comfy) from \(old.prefix(12)) to v0.8.1-standin"), "\(update.stderr)")
    h.resetCalls()
    #expect(try h.bootstrap(["COMFYUI_UPDATE": "1"]).status == 0)
    #expect(try commit(of: "HEAD", in: comfy) == newer)
  }

  @Test func customNodesFromACommaAndNewlineListAreEachAtTheirRef() throws {
    let h = ComfyHome()
    let repos = h.tmp.path + "/nodes"
    for name in ["Alpha", "Beta", "Gamma"] {
      try git(["clone", "--quiet", "--bare", StandinRepos.dir + "/login-src", "\(repos)/\(name).git"])
    }
    let login = StandinRepos.dir + "/login-src"
    let v1 = try commit(of: "v1.0-standin", in: login)
    let v09 = try commit(of: "v0.9-standin", in: login)
    let tip = try commit(of: "master", in: login)
    // A tag, a commit id and no ref; commas and newlines mixed, blank entries, a comment, spaces.
    h.extra["COMFYUI_CUSTOM_NODES"] =
      "file://\(repos)/Alpha.git@v1.0-standin,\n  file://\(repos)/Beta.git@\(v09) ,,\n# file://\(repos)/Commented.git\n\nfile://\(repos)/Gamma.git\n"
    let first = try h.bootstrap()
    #expect(first.status == 0, "\(first.stderr)")
    let nodes = h.home + "/ComfyUI/custom_nodes/"
    #expect(try commit(of: "HEAD", in: nodes + "Alpha") == v1)
    #expect(try commit(of: "HEAD", in: nodes + "Beta") == v09)
    #expect(try commit(of: "HEAD", in: nodes + "Gamma") == tip)
    // The folders there (ComfyUI ships example files): one per entry, none for the comment.
    let names = try FileManager.default.contentsOfDirectory(atPath: nodes).filter {
      var folder: ObjCBool = false
      return FileManager.default.fileExists(atPath: nodes + $0, isDirectory: &folder) && folder.boolValue
        && !$0.hasPrefix("__")
    }.sorted()
    #expect(names == ["Alpha", "Beta", "ComfyUI-Login", "Gamma"], "\(names)")
    let clones = gitCalls(h).filter { $0.contains(" clone ") }
    #expect(clones.count == 5, "ComfyUI, ComfyUI-Login and three nodes: \(clones)")
    #expect(clones.contains { $0.contains("--branch v1.0-standin") && $0.contains("Alpha.git") }, "\(clones)")
    #expect(clones.contains { $0.contains("--no-checkout") && $0.contains("Beta.git") }, "\(clones)")

    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0, "\(warm.stderr)")
    #expect(h.recordedCalls == [], "\(h.recordedCalls)")
  }

  @Test func aVenvOutsideTheHomeIsCreatedThereServesAndIsReused() throws {
    let h = ComfyHome()
    let venv = h.tmp.path + "/elsewhere/venv"
    h.extra["COMFYUI_VENV"] = venv
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(FileManager.default.isExecutableFile(atPath: venv + "/bin/python"))
    #expect(!FileManager.default.fileExists(atPath: h.home + "/venv"), "a venv was made in the home too")
    // The server runs the venv's python, and its imports (bcrypt's extension, for ComfyUI-Login)
    // come from the venv's site-packages: sys.prefix is the venv.
    let pid = try #require(serverPID(under: server.pid), "no server process")
    let argv0 = ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data())
      .split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) }
    #expect(argv0 == venv + "/bin/python", "\(argv0 ?? "none")")
    let maps = (try? String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)) ?? ""
    #expect(
      maps.split(separator: "\n").contains { $0.contains(venv + "/lib/") && $0.contains("bcrypt") },
      "the server loaded no bcrypt from \(venv)")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0, "\(server.log)")

    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0, "\(warm.stderr)")
    #expect(warm.stderr.contains("venv: up to date, no installer run"), "\(warm.stderr)")
    #expect(h.recordedCalls == [], "\(h.recordedCalls)")
    #expect(!FileManager.default.fileExists(atPath: h.home + "/venv"))
  }

  @Test func anOfflineWarmStartRunsNoGitAndNoInstallerAndServes() throws {
    let h = ComfyHome()
    // Network URLs, which git reaches only through the rewrite to the local stand-ins given here.
    let comfyURL = "https://comfy-init.invalid/ComfyUI.git"
    let loginURL = "https://comfy-init.invalid/ComfyUI-Login.git"
    h.extra["COMFYUI_REPO"] = comfyURL
    h.extra["COMFYUI_LOGIN_REPO"] = loginURL
    let rewrite = [
      "GIT_CONFIG_COUNT": "2",
      "GIT_CONFIG_KEY_0": "url.\(StandinRepos.comfyRepo).insteadOf", "GIT_CONFIG_VALUE_0": comfyURL,
      "GIT_CONFIG_KEY_1": "url.\(StandinRepos.loginRepo).insteadOf", "GIT_CONFIG_VALUE_1": loginURL,
    ]
    let cold = try h.bootstrap(rewrite)
    #expect(cold.status == 0, "\(cold.stderr)")

    // Offline, and without the rewrite: any git would go to the network (and fail).
    h.resetCalls()
    let server = try h.start(["COMFYUI_OFFLINE": "1", "GIT_CONFIG_COUNT": "0"])
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(server.log.contains("venv: up to date, no installer run"), "\(server.log)")
    #expect(gitCalls(h) == [], "\(h.recordedCalls)")
    #expect(installerCalls(h) == [], "\(h.recordedCalls)")
    #expect(h.recordedCalls.contains { $0.contains("main.py") }, "the server never started: \(h.recordedCalls)")
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0, "\(server.log)")
  }

  @Test func aVenvWhosePythonIsGoneIsMovedToVenvBrokenAndMadeAgain() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    let venv = h.home + "/venv"
    try "mine\n".write(toFile: venv + "/kept.txt", atomically: true, encoding: .utf8)
    // What a new base image does to an old venv: its python links to an interpreter that is gone.
    try FileManager.default.removeItem(atPath: venv + "/bin/python")
    #expect(symlink("/nonexistent/python3.99", venv + "/bin/python") == 0)

    let next = try h.bootstrap()
    #expect(next.status == 0, "\(next.stderr)")
    #expect(
      next.stderr.contains("venv at \(venv): it has no working python; moved it to \(h.home)/venv.broken"),
      "\(next.stderr)")
    #expect(try String(contentsOfFile: h.home + "/venv.broken/kept.txt", encoding: .utf8) == "mine\n")
    let check = try runProcess([venv + "/bin/python", "-c", "import six, bcrypt"], environment: baseEnvironment())
    #expect(check.status == 0, "\(check.stderr)")
    #expect(h.recordedCalls.contains { $0.contains("pip") && $0.contains("install") }, "\(h.recordedCalls)")
  }
}
