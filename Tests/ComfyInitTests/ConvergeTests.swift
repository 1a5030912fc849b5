// Issue 9, "converge from any state": a start after any crash, any garbage in a state file, a
// second container racing on the same home, or a disk that was read-only or full (and is fixed)
// ends with a working install, and never with a wedge a person must clear by hand.
import Foundation
import Testing

/// The errors comfy-init printed (its "error:" lines).
private func errorLines(_ log: String) -> [Substring] {
  log.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
}

private func fileText(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

private func parentPath(_ path: String) -> String { (path as NSString).deletingLastPathComponent }

/// The file type at `path` without following a link (S_IFREG, S_IFLNK, ...); nil when absent.
private func fileType(_ path: String) -> mode_t? {
  var st = stat()
  return lstat(path, &st) == 0 ? st.st_mode & S_IFMT : nil
}

/// A crash of the whole container at this very moment: every process of the tree is stopped
/// first (a stopped process forks no more), then all are killed. Killing comfy-init alone would
/// leave the grandchildren (`python -m venv` runs ensurepip, which runs pip) finishing the job.
func freezeAndKill(_ process: BackgroundProcess) {
  var frozen: Set<Int32> = [process.pid]
  kill(process.pid, SIGSTOP)
  while true {
    let found = Set(descendants(of: process.pid)).subtracting(frozen)
    if found.isEmpty { break }
    for pid in found { kill(pid, SIGSTOP) }
    frozen.formUnion(found)
  }
  for pid in frozen { kill(pid, SIGKILL) }
  _ = process.wait(timeout: 10)
}

/// `python -m pip --version` with the venv's own python: the venv is usable.
private func venvPipWorks(_ home: String) throws -> ProcessResult {
  try runProcess([home + "/venv/bin/python", "-m", "pip", "--version"], environment: baseEnvironment(), timeout: 60)
}

/// Where `python3 -m venv` is cut short.
enum VenvKillPoint: String, CaseIterable, CustomTestStringConvertible, Sendable {
  /// The venv's folder and config exist, nothing else.
  case pyvenvCfg = "pyvenv.cfg"
  /// ensurepip started writing pip into site-packages.
  case pipFolder = "site-packages/pip"
  /// pip's package half written (`pip/__main__.py` there, `pip/_internal/utils` perhaps not).
  case pipHalfway = "site-packages/pip/_internal"

  var testDescription: String { "killed when \(rawValue) appears" }

  func reached(venv: String) -> Bool {
    if self == .pyvenvCfg { return FileManager.default.fileExists(atPath: venv + "/pyvenv.cfg") }
    let inner = self == .pipFolder ? "/site-packages/pip" : "/site-packages/pip/_internal"
    let lib = venv + "/lib"
    let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
    return versions.contains { FileManager.default.fileExists(atPath: lib + "/" + $0 + inner) }
  }
}

/// Where comfy-init alone is killed while `python3 -m venv` runs its ensurepip (a grandchild).
enum LoneKillPoint: String, CaseIterable, CustomTestStringConvertible, Sendable {
  case ensurepipStarts = "ensurepip starts"
  case pipFolder = "site-packages/pip appears"
  case pipHalfway = "site-packages/pip/_internal appears"
  case late = "half a second after pip/_internal appears"

  var testDescription: String { "comfy-init alone killed when \(rawValue)" }

  /// Waits for the point; false when the bootstrap ended first.
  func wait(for process: BackgroundProcess, venv: String) -> Bool {
    switch self {
    case .ensurepipStarts:
      return pollUntil(180, every: 0.0002, while: process) {
        descendants(of: process.pid).contains { arguments(of: $0).contains("ensurepip") }
      }
    case .pipFolder:
      return pollUntil(180, every: 0.0002, while: process) { VenvKillPoint.pipFolder.reached(venv: venv) }
    case .pipHalfway:
      return pollUntil(180, every: 0.0002, while: process) { VenvKillPoint.pipHalfway.reached(venv: venv) }
    case .late:
      guard pollUntil(180, every: 0.0002, while: process, { VenvKillPoint.pipHalfway.reached(venv: venv) }) else {
        return false
      }
      usleep(500_000)
      return process.isRunning
    }
  }
}

/// A process's command line, its arguments joined by spaces; empty when it is gone.
private func arguments(of pid: Int32) -> String {
  ((try? commandLine(of: pid)) ?? []).joined(separator: " ")
}

/// A state file comfy-init keeps, and what a start must leave there once it has converged.
enum StateFile: String, CaseIterable, CustomTestStringConvertible, Sendable {
  case venvStamp = "venv/.comfy-init-stamp"
  case installingMarker = "venv/.comfy-init-installing"
  case comfyCheckout = ".comfy-init/ComfyUI.checkout"
  case nodeCheckout = ".comfy-init/nodes/ComfyUI-Login.checkout"
  case authStamp = ".comfy-init/auth.stamp"
  case status = ".comfy-init/status"
  case verifyStamp = "ComfyUI/models/.comfy-init/verified/(the managed model's stamp)"
  case lock = ".comfy-init/lock"

  var testDescription: String { rawValue }

  func path(home: String) -> String {
    guard self == .verifyStamp else { return home + "/" + rawValue }
    let dir = home + "/ComfyUI/models/.comfy-init/verified"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return dir + "/" + (names.first { !$0.contains(".") } ?? "missing")
  }

  var kinds: [Garbage] {
    switch self {
    // A link there stays refused (RootSafetyTests: the lock is never opened through a link).
    case .lock: return Garbage.allCases.filter { $0 != .danglingLink }
    // A marker's content means nothing; a dangling link is no marker.
    case .installingMarker: return Garbage.allCases.filter { $0 != .danglingLink }
    default: return Garbage.allCases
    }
  }

  /// A start that finds garbage here redoes the work: the installer runs again.
  var redoesTheInstall: Bool { self == .venvStamp || self == .installingMarker }
}

enum Garbage: String, CaseIterable, Sendable {
  case randomBytes, empty, huge, plausibleNonsense, fifo, folder, danglingLink

  func plant(at path: String) throws {
    let fm = FileManager.default
    if fileType(path) != nil { try fm.removeItem(atPath: path) }
    switch self {
    case .randomBytes:
      var generator = SystemRandomNumberGenerator()
      let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
      try Data(bytes).write(to: URL(fileURLWithPath: path))
    case .empty:
      try Data().write(to: URL(fileURLWithPath: path))
    case .huge:
      #expect(fm.createFile(atPath: path, contents: Data("pinned\n".utf8)))
      #expect(truncate(path, 256 << 20) == 0)
    case .plausibleNonsense:
      // Every field where a parser looks for one, each holding what must not be trusted.
      let text = "phase=serving\nsince=-9223372036854775808\npid=-1\ndetail=x\n\n\npinned\n\(path) 0 0.0 0 -\n"
      try text.write(toFile: path, atomically: false, encoding: .utf8)
    case .fifo:
      #expect(mkfifo(path, 0o644) == 0)
    case .folder:
      try fm.createDirectory(atPath: path, withIntermediateDirectories: false)
      try "kept".write(toFile: path + "/keep.txt", atomically: false, encoding: .utf8)
    case .danglingLink:
      #expect(symlink(path + ".nowhere/target", path) == 0)
    }
  }
}

/// One bootstrapped home that every garbage case plants into, in turn: each start must leave it
/// converged, so the next case starts from a good state. User data lives in it throughout.
final class GarbageHome: @unchecked Sendable {
  static let shared = GarbageHome()

  let h: ComfyHome
  var good: [StateFile: String] = [:]
  var setupFailure: String?
  /// The user's files, with their content: no case may touch them.
  var userFiles: [String: String] = [:]

  init() {
    h = ComfyHome()
    let password = h.tmp.path + "/password"
    let manifest = h.tmp.path + "/models.txt"
    let managed = h.home + "/ComfyUI/models/checkpoints/managed.safetensors"
    do {
      try "correct-horse-battery-staple\n".write(toFile: password, atomically: false, encoding: .utf8)
      // A model the manifest lists and that is in place already: it is hashed once and stamped.
      try FileManager.default.createDirectory(
        atPath: parentPath(managed), withIntermediateDirectories: true)
      try "managed weights".write(toFile: managed, atomically: false, encoding: .utf8)
      let sha = sha256Hex(Array("managed weights".utf8))
      try "https://example.invalid/managed.safetensors checkpoints/managed.safetensors \(sha)\n".write(
        toFile: manifest, atomically: false, encoding: .utf8)
      h.extra = ["COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_FILE": password, "COMFYUI_MODELS_MANIFEST": manifest]
      let first = try h.bootstrap()
      guard first.status == 0 else {
        setupFailure = "the first bootstrap failed: \(first.stderr)"
        return
      }
      for file in StateFile.allCases where file != .installingMarker {
        good[file] = fileText(file.path(home: h.home))
      }
      let comfy = h.home + "/ComfyUI"
      userFiles = [
        comfy + "/models/checkpoints/mine.safetensors": "my weights",
        comfy + "/output/ComfyUI_00001_.png": "my picture",
        comfy + "/custom_nodes/MyNode/__init__.py": "NODE_CLASS_MAPPINGS = {}\n",
      ]
      for (path, text) in userFiles {
        try FileManager.default.createDirectory(
          atPath: parentPath(path), withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
      }
      userFiles[managed] = "managed weights"
    } catch {
      setupFailure = "\(error)"
    }
  }
}

@Suite(.serialized) struct ConvergeTests {
  @Test(arguments: VenvKillPoint.allCases)
  func aKillDuringVenvCreationConvergesAndKeepsTheBrokenVenvAside(_ point: VenvKillPoint) throws {
    let h = ComfyHome()
    let venv = h.home + "/venv"
    let doomed = try h.start(args: ["bootstrap"], label: "doomed")
    let reached = pollUntil(180, every: 0.0002, while: doomed) { point.reached(venv: venv) }
    freezeAndKill(doomed)
    try #require(reached, "never reached \(point.rawValue): \(doomed.log)")
    let lib = venv + "/lib"
    let version = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.first ?? "?"
    let utils = FileManager.default.fileExists(atPath: "\(lib)/\(version)/site-packages/pip/_internal/utils")
    print("killed at \(point.rawValue); pip/_internal/utils \(utils ? "was" : "was not") there yet")

    let next = try h.bootstrap()
    #expect(next.status == 0, "\(next.stderr)")
    // The repair path that ran, by its log line: the creating marker was there at every kill point.
    #expect(
      next.stderr.contains(
        "venv at \(venv): its creation did not finish (crash, stop or full disk); moved it to \(venv).broken"),
      "\(next.stderr)")
    let pip = try venvPipWorks(h.home)
    #expect(pip.status == 0, "the venv's pip does not work: \(pip.stderr)")
    let aside = try FileManager.default.contentsOfDirectory(atPath: h.home).filter { $0.hasPrefix("venv.broken") }
    #expect(aside.count == 1, "the interrupted venv was not kept aside: \(aside)")
    if let first = aside.first {
      #expect(FileManager.default.fileExists(atPath: h.home + "/" + first + "/pyvenv.cfg"), "\(first) lost files")
    }
    // Converged for good: the next start runs nothing.
    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0 && warm.stderr.contains("venv: up to date"), "\(warm.stderr)")
    #expect(!h.recordedCalls.contains { $0.hasPrefix("python") }, "\(h.recordedCalls)")
  }

  /// comfy-init killed alone (not PID 1: outside a container, or a supervisor that kills only its pid):
  /// `python3 -m venv` dies with it (its parent-death signal), but not the ensurepip it runs, which once
  /// went on writing pip into the venv while the next start moved that venv aside and made a new one
  /// (whose pip came out broken: `No module named pip.__main__`). The next start ends every tool the
  /// killed one left before it repairs anything, and the venv converges with a working pip.
  @Test(arguments: LoneKillPoint.allCases)
  func aKillOfComfyInitAloneDuringVenvCreationLeavesNoToolWritingIntoTheNextStart(_ point: LoneKillPoint) throws {
    let h = ComfyHome()
    let venv = h.home + "/venv"
    let doomed = try h.start(args: ["bootstrap"], label: "doomed")
    defer { doomed.stop() }
    let reached = point.wait(for: doomed, venv: venv)
    let tools = descendants(of: doomed.pid)
    kill(doomed.pid, SIGKILL)
    _ = doomed.wait(timeout: 10)
    try #require(reached, "never reached '\(point.rawValue)': \(doomed.log)")
    #expect(tools.contains { arguments(of: $0).contains("ensurepip") }, "no ensurepip ran when killed: \(tools)")
    defer { for pid in tools where processIsAlive(pid) { kill(pid, SIGKILL) } }  // cleanup of a failed run only
    let survivors = tools.filter { processIsAlive($0) }

    // The next start, at once: by the time it moves the interrupted venv aside, none of the killed
    // start's tools may still run.
    let next = try h.start(args: ["bootstrap"], label: "next")
    defer { next.stop() }
    let moved = "venv at \(venv): its creation did not finish"
    var aliveAtRepair: [Int32] = []
    let repaired = pollUntil(180, every: 0.0002, while: next) {
      guard next.log.contains(moved) else { return false }
      aliveAtRepair = tools.filter { processIsAlive($0) }
      return true
    }
    let end = next.wait(timeout: 300)
    #expect(repaired, "the next start did not move the interrupted venv aside: \(next.log)")
    #expect(
      aliveAtRepair.isEmpty,
      "tools of the killed start still ran when the next one repaired the venv: \(aliveAtRepair.map { "\($0) \(arguments(of: $0))" })"
    )
    #expect(end?.status == 0 && end?.signaled == false, "\(next.log)")
    if !survivors.isEmpty {
      #expect(next.log.contains("lock: ended"), "survivors \(survivors) were not ended by the lock: \(next.log)")
    }
    let pip = try venvPipWorks(h.home)
    #expect(pip.status == 0, "the venv's pip does not work: \(pip.stderr)")
    #expect(!tools.contains(where: processIsAlive), "tools of the killed start outlived the next one")
    // Converged for good: the next start runs nothing.
    h.resetCalls()
    let warm = try h.bootstrap()
    #expect(warm.status == 0 && warm.stderr.contains("venv: up to date"), "\(warm.stderr)")
    #expect(!h.recordedCalls.contains { $0.hasPrefix("python") }, "\(h.recordedCalls)")
  }

  @Test(arguments: StateFile.allCases)
  func garbageInAStateFileIsAStampThatDoesNotMatch(_ file: StateFile) throws {
    let shared = GarbageHome.shared
    if let failure = shared.setupFailure { Issue.record(Comment(rawValue: failure)) }
    try #require(shared.setupFailure == nil)
    let h = shared.h
    for kind in file.kinds {
      let path = file.path(home: h.home)
      try kind.plant(at: path)
      h.resetCalls()
      if file == .status {
        // `health` reads the status first: garbage there is no status, not a crash or a hang.
        let health = try runProcess(
          [Paths.comfyInit, "health", "--timeout", "2"], environment: h.environment, timeout: 30)
        #expect(!health.signaled && health.status == 1, "\(kind): health: \(health.status) \(health.all)")
      }
      let start = try runProcess([Paths.comfyInit, "bootstrap"], environment: h.environment, timeout: 90)
      #expect(start.status == 0 && !start.signaled, "\(kind): \(start.status) \(start.stderr)")
      if file.redoesTheInstall {
        #expect(h.recordedCalls.contains { $0.contains("pip") && $0.contains("install") }, "\(kind): no reinstall")
      }
      // The state file is whole again (the marker is gone).
      switch file {
      case .installingMarker:
        #expect(fileType(path) == nil, "\(kind): the marker is still there")
      case .status:
        #expect(h.phase == "bootstrapped", "\(kind): \(fileText(path) ?? "unreadable")")
      case .lock:
        #expect(fileType(path) == S_IFREG && fileText(path)?.hasPrefix("pid ") == true, "\(kind): no lock file")
      default:
        #expect(fileType(path) == S_IFREG && fileText(path) == shared.good[file], "\(kind): not rewritten")
      }
      if kind == .folder {
        // A folder in the way is moved aside with what it held, never deleted.
        let parent = parentPath(path)
        let name = (path as NSString).lastPathComponent
        let aside = try FileManager.default.contentsOfDirectory(atPath: parent).filter {
          $0.hasPrefix(name + ".broken")
        }
        #expect(
          aside.contains { fileText(parent + "/" + $0 + "/keep.txt") == "kept" }, "\(kind): the folder is gone")
      }
      for (user, text) in shared.userFiles {
        #expect(fileText(user) == text, "\(kind): \(user) was changed")
      }
      if file.redoesTheInstall {
        #expect(try venvPipWorks(h.home).status == 0, "\(kind): the venv does not work")
      }
    }
  }

  @Test func twoBootstrapsRacingOnOneEmptyHomeInstallOnce() throws {
    let h = ComfyHome()
    let first = try h.start(args: ["bootstrap"], label: "first")
    let second = try h.start(args: ["bootstrap"], label: "second")
    let ends = [first.wait(timeout: 300), second.wait(timeout: 300)]
    #expect(ends[0]?.status == 0 && ends[0]?.signaled == false, "\(first.log)")
    #expect(ends[1]?.status == 0 && ends[1]?.signaled == false, "\(second.log)")
    let installs = h.recordedCalls.filter { $0.contains("pip") && $0.contains("install") }
    #expect(installs.count == 1, "the installer ran \(installs.count) times: \(installs)")
    let clones = h.recordedCalls.filter { $0.hasPrefix("git") && $0.contains(" clone ") }
    #expect(clones.count == 2, "ComfyUI and ComfyUI-Login are each cloned once: \(clones)")
    #expect(try venvPipWorks(h.home).status == 0)
    let check = try runProcess(
      [h.home + "/venv/bin/python", "-c", "import six, einops, bcrypt"], environment: baseEnvironment())
    #expect(check.status == 0, "\(check.stderr)")
    // The one that waited said so, and found the work done.
    #expect((first.log + second.log).contains("is installing into this home; waiting for it"))
    #expect((first.log + second.log).contains("venv: up to date, no installer run"))
  }
}

/// A read-only home and a full disk: real mounts in a private mount namespace (root; CI fails
/// instead of skipping).
@Suite(.serialized, .needs(.root, .tmpfs))
struct ConvergeStorageTests {
  static let unshare = PID1.which("unshare")

  /// `script` run by sh in a private mount namespace, with `args` as $1...: nothing it mounts is
  /// seen outside, and everything it mounts goes with it. Exit 99 means the mount failed.
  func inMountNamespace(_ script: String, _ args: [String], environment: [String: String]) throws -> ProcessResult {
    try #require(getuid() == 0, "mount namespaces need root")
    let result = try runProcess(
      [Self.unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh"] + args,
      environment: environment, timeout: 300)
    if result.status == 99 { Issue.record("cannot mount although this machine can: \(result.stderr)") }
    return result
  }

  @Test(arguments: [false, true])
  func aReadOnlyHomeSaysSoThenAWritableOneConverges(bootstrapped: Bool) throws {
    let h = ComfyHome()
    if bootstrapped {
      try #require(try h.bootstrap().status == 0)
    } else {
      try FileManager.default.createDirectory(atPath: h.home, withIntermediateDirectories: true)
    }
    // Bind the home onto itself read-only, then exec comfy-init there.
    let script = """
      mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 99
      shift
      exec "$@"
      """
    let result = try inMountNamespace(script, [h.home, Paths.comfyInit, "bootstrap"], environment: h.environment)
    if result.status == 99 { return }
    #expect(result.status == 12, "\(result.stderr)")
    let errors = errorLines(result.stderr)
    #expect(errors.count == 1, "\(result.stderr)")
    #expect(
      errors.first?.contains("COMFYUI_HOME=\(h.home) is on a read-only filesystem; mount a writable volume there")
        == true, "\(errors)")
    #expect(!result.stderr.contains("chown"), "\(result.stderr)")

    // The same home, writable (outside the namespace): the start converges.
    let writable = try h.bootstrap()
    #expect(writable.status == 0, "\(writable.stderr)")
    #expect(try venvPipWorks(h.home).status == 0)
  }

  @Test func aFullDiskSaysSoAndAStartAfterItGrewConverges() throws {
    let h = ComfyHome()
    try FileManager.default.createDirectory(atPath: h.home, withIntermediateDirectories: true)
    let out = h.tmp.path
    // A 16 MB tmpfs as the home: the venv alone takes about 26 MB. Then the disk grows, and the next
    // start (in the same namespace: the tmpfs lives as long as it does) must converge.
    let script = """
      home=$1 bin=$2 out=$3
      mount -t tmpfs -o size=16m,mode=0755 tmpfs "$home" || exit 99
      "$bin" bootstrap >"$out/full.log" 2>&1; echo $? >"$out/full.rc"
      mount -o remount,size=256m "$home" || exit 98
      "$bin" bootstrap >"$out/grown.log" 2>&1; echo $? >"$out/grown.rc"
      "$home/venv/bin/python" -m pip --version >"$out/pip.log" 2>&1; echo $? >"$out/pip.rc"
      ls -a "$home" >"$out/home.ls"
      """
    let result = try inMountNamespace(script, [h.home, Paths.comfyInit, out], environment: h.environment)
    if result.status == 99 { return }
    #expect(result.status == 0, "\(result.stderr)")
    let full = fileText(out + "/full.log") ?? ""
    #expect(fileText(out + "/full.rc") == "12\n", "\(full)")
    let errors = errorLines(full)
    #expect(errors.count == 1, "\(full)")
    #expect(errors.first?.contains("no space left on the device holding COMFYUI_HOME=\(h.home) (") == true, "\(full)")
    #expect(errors.first?.contains("bytes free); free some space or grow the volume") == true, "\(errors)")
    #expect(!full.contains("chown"), "\(full)")
    #expect(fileText(out + "/grown.rc") == "0\n", "\(fileText(out + "/grown.log") ?? "")")
    #expect(fileText(out + "/pip.rc") == "0\n", "\(fileText(out + "/pip.log") ?? "")")
    print("after the full disk, the home held: \(fileText(out + "/home.ls") ?? "")")
  }
}
