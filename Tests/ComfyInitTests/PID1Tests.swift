// The ten scenarios every PID-1 init must pass (shared docs/pid1.md), run against the static binary
// with comfy-init as PID 1 of a fresh PID namespace: `unshare --pid --fork --mount-proc --kill-child`.
// --kill-child ties the namespace to unshare: killing unshare (a timeout, BackgroundProcess.deinit)
// takes PID 1 and so every process of the namespace with it. Signals "from Docker" are sent from
// outside the namespace to comfy-init's host pid. The child programs are in Tests/Fixtures/pid1/.
import Foundation
import Testing

// Root only: new PID namespaces and mounting their /proc need it (the test machine runs as root).
@Suite("PID1", .serialized, .needs(.root, .tmpfs))  // unshare --pid --mount-proc
struct PID1Tests {
  // MARK: 1. exit codes

  @Test func exitCodes0To255PassThrough() throws {
    // One shell loop, 256 namespaces: far cheaper than 256 Foundation processes.
    let script = #"i=0; while [ $i -le 255 ]; do "$@" /bin/sh -c "exit $i"; echo "$i $?"; i=$((i+1)); done"#
    let r = try runProcess(
      ["/bin/sh", "-c", script, "sh"] + PID1.supervise(["--"]), environment: baseEnvironment(), timeout: 60)
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == 256)
    let wrong = lines.filter { line in
      let parts = line.split(separator: " ")
      return parts.count != 2 || parts[0] != parts[1]
    }
    #expect(wrong.isEmpty, "child's code → comfy-init's code: \(wrong)")
  }

  @Test func deathBySignalGives128PlusN() throws {
    // Every signal whose default action ends the process; the shell sends it to itself.
    let fatal: [Int32] = [
      SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2,
      SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS,
    ]
    for n in fatal {
      let r = try runProcess(
        PID1.supervise(["--", "/bin/sh", "-c", "ulimit -c 0; kill -\(n) $$; exit 99"]), environment: baseEnvironment(),
        timeout: 10)
      // comfy-init itself exits normally with 128+n (unshare re-raises a signal that killed PID 1).
      #expect(r.status == 128 + n && !r.signaled, "signal \(n): \(r.status) signaled=\(r.signaled) \(r.stderr)")
    }
  }

  @Test func execFailureGives127Or126WithAMessage() throws {
    let tmp = TempDir("pid1-exec")
    let notExecutable = tmp.path + "/not-executable"
    try "#!/bin/sh\nexit 0\n".write(toFile: notExecutable, atomically: true, encoding: .utf8)
    let cases: [(String, Int32, String)] = [
      ("no-such-program-comfy-init-test", 127, "not found"),
      (tmp.path + "/missing/program", 127, "not found"),
      (notExecutable, 126, "Permission denied"),
      (tmp.path, 126, "Permission denied"),
    ]
    for (program, code, message) in cases {
      let r = try runProcess(PID1.supervise(["--", program, "arg"]), environment: baseEnvironment(), timeout: 10)
      #expect(r.status == code && !r.signaled, "\(program): \(r.status)")
      #expect(r.stderr.contains("cannot run \(program)") && r.stderr.contains(message), "\(program): \(r.stderr)")
    }
  }

  // MARK: 2. docker stop

  @Test func dockerStopEndsTheChildAtOnce() throws {
    let tmp = TempDir("pid1-stop")
    // As in the measurement of pid1.md: `sh -c 'sleep 100'`, here with the sleep a grandchild.
    let run = try PID1.Run(["--", "/bin/sh", "-c", "sleep 100; exit 5"], tmp: tmp)
    defer { run.stop() }
    let initPID = try #require(run.initPID())
    let sleeping = pollUntil(10, every: 0.005) {
      guard let sh = PID1.childPIDs(of: initPID).first, let sleep = PID1.childPIDs(of: sh).first else { return false }
      return PID1.commandName(of: sleep) == "sleep"
    }
    #expect(sleeping)
    let start = Date()
    kill(initPID, SIGTERM)
    let outcome = run.wait(timeout: 20)
    let elapsed = Date().timeIntervalSince(start)
    print("PID1 docker stop: \(String(format: "%.3f", elapsed)) s")
    // 143: the child died of the SIGTERM itself, not of the SIGKILL that ends the 8 s grace.
    #expect(outcome?.status == 143 && outcome?.signaled == false, "\(String(describing: outcome)) \(run.log)")
    #expect(!run.log.contains("did not stop within"), "stopped by the grace period's SIGKILL, not by the stop signal")
  }

  @Test func dockerStopWithTranslatedStopSignal() throws {
    let tmp = TempDir("pid1-stopsig")
    let child = PID1.SignalChild(tmp: tmp, options: ["--die-on", "\(SIGINT)"])
    let run = try PID1.Run(["--stop-signal", "SIGINT", "--"] + child.command, tmp: tmp)
    defer { run.stop() }
    let initPID = try #require(run.initPID(after: child.ready))
    kill(initPID, SIGTERM)
    let outcome = run.wait(timeout: 20)
    #expect(outcome?.status == 128 + SIGINT && outcome?.signaled == false, "\(run.log)")
    #expect(child.recorded == ["child \(SIGINT)"], "the server sees SIGINT (and only SIGINT) for docker stop")
  }

  // MARK: 3. every signal, exactly once

  @Test func everyCatchableSignalReachesTheChildExactlyOnce() throws {
    let tmp = TempDir("pid1-signals")
    let child = PID1.SignalChild(tmp: tmp)
    // A long grace: the stop requests (QUIT, INT, TERM) come last and must not end the run.
    let run = try PID1.Run(["--stop-timeout", "60", "--"] + child.command, tmp: tmp)
    defer { run.stop() }
    let initPID = try #require(run.initPID(after: child.ready))
    let stops = [SIGQUIT, SIGINT, SIGTERM]
    let order = (Int32(1)...31).filter { ![SIGCHLD, SIGKILL, SIGSTOP].contains($0) && !stops.contains($0) } + stops
    #expect(order.count == 28)
    for (i, signal) in order.enumerated() {
      kill(initPID, signal)
      // One at a time: two of the same signal pending together would merge anywhere.
      let arrived = pollUntil(10, every: 0.005) { child.recorded.count > i }
      #expect(arrived, "\(signal) did not reach the child")
      if !arrived { break }
    }
    child.finish()
    let outcome = run.wait(timeout: 20)
    #expect(outcome?.status == 0 && outcome?.signaled == false, "\(run.log)")
    #expect(child.recorded == order.map { "child \($0)" })
  }

  // MARK: 4. group mode

  @Test func grandchildGetsTheStopSignalToo() throws {
    let tmp = TempDir("pid1-group")
    let child = PID1.SignalChild(tmp: tmp, options: ["--grandchild", "--die-on", "\(SIGTERM)"])
    let run = try PID1.Run(["--"] + child.command, tmp: tmp)
    defer { run.stop() }
    let initPID = try #require(run.initPID(after: child.ready))
    kill(initPID, SIGTERM)
    let outcome = run.wait(timeout: 20)
    // The child waits for the grandchild, then dies of SIGTERM itself.
    #expect(outcome?.status == 128 + SIGTERM && outcome?.signaled == false, "\(run.log)")
    #expect(child.recorded.sorted() == ["child \(SIGTERM)", "grandchild \(SIGTERM)"])
  }

  // MARK: 5. orphans

  @Test func hundredOrphansLeaveNoZombieAsPID1() throws {
    let tmp = TempDir("pid1-orphans")
    let report = tmp.path + "/report.json"
    let r = try runProcess(
      PID1.supervise(["--", PID1.python, PID1.fixture("orphans.py"), "100", report]), environment: baseEnvironment(),
      timeout: 30)
    #expect(r.status == 0 && !r.signaled, "\(r.stderr)")
    let result = try PID1.readJSON(PID1.OrphanReport.self, report)
    #expect(result.initPID == 1)
    #expect(result.orphans == 100 && result.adopted == 100, "the orphans were reparented to PID 1")
    #expect(result.zombies == 0 && result.left == 0, "\(result)")
  }

  @Test func hundredOrphansLeaveNoZombieAsSubreaper() throws {
    // comfy-init as pid 2, under a shell as PID 1 (no reaper of its own until it exits): comfy-init
    // must adopt the orphans as child subreaper and reap them.
    let tmp = TempDir("pid1-subreaper")
    let report = tmp.path + "/report.json"
    let command = [Paths.comfyInit, "supervise", "--", PID1.python, PID1.fixture("orphans.py"), "100", report]
    let r = try runProcess(
      PID1.namespace(["/bin/sh", "-c", #""$@"; exit $?"#, "sh"] + command), environment: baseEnvironment(),
      timeout: 30)
    #expect(r.status == 0 && !r.signaled, "\(r.stderr)")
    let result = try PID1.readJSON(PID1.OrphanReport.self, report)
    #expect(result.initPID == 2, "comfy-init runs as pid 2 of the namespace, not as PID 1")
    #expect(result.orphans == 100 && result.adopted == 100, "the orphans were reparented to comfy-init")
    #expect(result.zombies == 0 && result.left == 0, "\(result)")
  }

  // MARK: 6. simultaneous deaths

  @Test func mainChildAndOthersDyingTogetherStillGiveTheMainCode() throws {
    var failures = [String]()
    for mode in ["exit", "killpg"] {
      let expected: Int32 = mode == "exit" ? 42 : 128 + SIGKILL
      for i in 0..<20 {
        let r = try runProcess(
          PID1.supervise(["--", PID1.python, PID1.fixture("race.py"), mode, "10"]), environment: baseEnvironment(),
          timeout: 10)
        if r.status != expected || r.signaled { failures.append("\(mode) #\(i): \(r.status) \(r.stderr)") }
      }
    }
    // A hang shows as 9 (runProcess's SIGKILL after 10 s); another child's code as 7.
    #expect(failures.isEmpty, "\(failures)")
  }

  // MARK: 7. clean start

  @Test func childStartsWithDefaultSignalsAndEmptyMask() throws {
    // dirty-exec.py starts comfy-init with HUP/USR1/PIPE ignored, USR2/ALRM blocked, fds 7 and 8 open.
    let dirty = [PID1.python, PID1.fixture("dirty-exec.py")]
    let status = try runProcess(
      dirty + PID1.supervise(["--", "/bin/cat", "/proc/self/status"]), environment: baseEnvironment(), timeout: 10)
    #expect(status.status == 0, "\(status.stderr)")
    let fields = PID1.procStatus(status.stdout)
    for key in ["SigBlk", "SigIgn", "SigPnd", "ShdPnd", "SigCgt"] {
      #expect(fields[key] == "0000000000000000", "\(key): \(fields[key] ?? "missing")")
    }
    // The control: without comfy-init the same launcher does leave its dirt in the child.
    let control = try runProcess(dirty + ["/bin/cat", "/proc/self/status"], environment: baseEnvironment())
    #expect(PID1.procStatus(control.stdout)["SigIgn"] != "0000000000000000")
    #expect(PID1.procStatus(control.stdout)["SigBlk"] != "0000000000000000")
  }

  @Test func childStartsWithNoLeakedFdsAndItsArgvEnvCwdStdin() throws {
    let tmp = TempDir("pid1-state")
    let out = tmp.path + "/state.json"
    let argv = ["plain", "with space", "", "--", "-x", "ünïcode", "line\nbreak", "$HOME", "*", "a=b"]
    var env = baseEnvironment()
    env["EMPTY"] = ""
    env["WITH_EQUALS"] = "a=b=c"
    env["UNICODE"] = "héllo wörld"
    env["SPACES"] = "  x  y "
    let stdin = "line one\nline two ünïcode\n"
    let dirty = [PID1.python, PID1.fixture("dirty-exec.py")]
    let reporter = [PID1.python, PID1.fixture("report-state.py"), out] + argv
    let r = try runProcess(
      dirty + PID1.supervise(["--"] + reporter), environment: env, directory: tmp.path, stdin: stdin, timeout: 10)
    #expect(r.status == 0, "\(r.stderr)")
    let state = try PID1.readJSON(PID1.ChildState.self, out)
    #expect(state.fds.keys.sorted() == ["0", "1", "2"], "fds beyond stdio leaked into the child: \(state.fds)")
    #expect(state.fds["0"]?.hasPrefix("pipe:") == true, "stdin is the pipe comfy-init got")
    #expect(state.argv == argv)
    #expect(Set(state.environ) == Set(env.map { "\($0.key)=\($0.value)" }))
    #expect(state.environ.count == env.count)
    #expect(state.cwd == URL(fileURLWithPath: tmp.path).resolvingSymlinksInPath().path)
    #expect(state.stdin == stdin)
    #expect(state.sigBlk == "0000000000000000", "signals blocked in the child")
    #expect(state.sigPnd == "0000000000000000" && state.shdPnd == "0000000000000000", "signals pending in the child")
    #expect(state.pgid == state.pid, "the child leads a process group of its own")
    // The control: the launcher does hand fds 7 and 8 to a child started without comfy-init.
    let control = try runProcess(dirty + reporter, environment: env, directory: tmp.path, stdin: stdin)
    #expect(control.status == 0)
    let leaked = try PID1.readJSON(PID1.ChildState.self, out).fds
    #expect(leaked["7"] == "/dev/null" && leaked["8"]?.hasPrefix("pipe:") == true, "\(leaked)")
  }

  // MARK: 8. stop grace

  @Test func childIgnoringTheStopSignalIsKilledAfterTheGrace() throws {
    let tmp = TempDir("pid1-grace")
    let child = PID1.SignalChild(tmp: tmp, options: ["--grandchild", "--ignore", "\(SIGTERM)"])
    let run = try PID1.Run(["--stop-timeout", "1", "--"] + child.command, tmp: tmp)
    defer { run.stop() }
    let initPID = try #require(run.initPID(after: child.ready))
    let start = Date()
    kill(initPID, SIGTERM)
    let outcome = run.wait(timeout: 20)
    let elapsed = Date().timeIntervalSince(start)
    print("PID1 grace 1 s: stopped after \(String(format: "%.3f", elapsed)) s")
    #expect(outcome?.status == 128 + SIGKILL && outcome?.signaled == false, "\(run.log)")
    // Not a timing figure: the grace is a promise, and a kill before it ran out would break it.
    #expect(elapsed >= 0.95, "killed before the grace ran out")
    #expect(run.log.contains("did not stop within 1"), "\(run.log)")
    #expect(child.recorded.isEmpty)
  }

  @Test func graceKillReachesTheWholeGroupWhenNotPID1() throws {
    // As PID 1 the namespace's end would kill the grandchild anyway: here comfy-init is pid 2 and
    // PID 1 stays (sleep, reaping nothing) so a grandchild left alive would show.
    let tmp = TempDir("pid1-gracegroup")
    let child = PID1.SignalChild(tmp: tmp, options: ["--grandchild", "--ignore", "\(SIGTERM)"])
    let rcFile = tmp.path + "/rc"
    let command = [Paths.comfyInit, "supervise", "--stop-timeout", "0.5", "--"] + child.command
    let run = try PID1.Run(
      namespace: ["/bin/sh", "-c", #""$@"; echo $? > "$RC"; exec sleep 60"#, "sh"] + command, tmp: tmp,
      environment: baseEnvironment().merging(["RC": rcFile]) { $1 })
    defer { run.stop() }
    #expect(pollUntil(10, every: 0.005) { FileManager.default.fileExists(atPath: child.ready) })
    let shPID = try #require(run.initPID())
    let comfyPID = try #require(PID1.childPIDs(of: shPID).first, "comfy-init is the shell's only child")
    let childPID = try #require(PID1.childPIDs(of: comfyPID).first)
    let grandchildPID = try #require(PID1.childPIDs(of: childPID).first)
    #expect(PID1.processState(grandchildPID) == "S")
    kill(comfyPID, SIGTERM)
    #expect(
      pollUntil(20, every: 0.005) { (try? String(contentsOfFile: rcFile, encoding: .utf8)) == "137\n" }, "\(run.log)")
    // Killed (gone, or a zombie of the namespace's PID 1), not left running.
    let state = PID1.processState(grandchildPID)
    #expect(state == nil || state == "Z", "grandchild is \(state ?? "gone")")
  }

  // MARK: 9. docker run -it

  @Test func ctrlCOnTheTerminalReachesTheChild() throws {
    let report = try PID1.PTY.run(mode: "ctrl-c", childOptions: ["--die-on", "\(SIGINT)"])
    #expect(report.timeout != true, "\(report.output)")
    #expect(report.initIsSessionLeader == true, "setup: PID 1 owns the terminal, as with docker run -t")
    #expect(report.foregroundPgrp == report.childPgrp && report.foregroundPgrp != report.initPgrp)
    #expect(report.record == ["child \(SIGINT)"], "Ctrl-C reached the child once")
    #expect(report.exit == 128 + SIGINT, "\(report.output)")
    #expect(!report.initStates.contains("T"), "comfy-init was stopped")
  }

  @Test func initWritingToTheTerminalInTheBackgroundIsNeverStopped() throws {
    // TOSTOP is set: comfy-init, in the background once the child owns the terminal, writes its
    // grace-period warning there. A SIGTTOU it did not block would stop it (or, as PID 1, make the
    // write restart forever): then this run would time out.
    let report = try PID1.PTY.run(mode: "ctrl-c-then-term", childOptions: ["--ignore", "\(SIGTERM)"])
    #expect(report.timeout != true, "\(report.output)")
    #expect(report.record == ["child \(SIGINT)"])
    #expect(report.output.contains("did not stop within"), "\(report.output)")
    #expect(report.exit == 128 + SIGKILL, "\(report.output)")
    #expect(!report.initStates.contains("T"), "comfy-init was stopped")
  }

  // MARK: 10. lingering children, and a thousand cycles

  @Test func mainChildExitingWhileOthersLingerEndsTheRun() throws {
    // The lingerers sleep for a unique number of seconds, to find them afterwards.
    let token = "1000.\(UInt32.random(in: 100_000...999_999))"
    let linger = [PID1.python, PID1.fixture("linger.py"), token]
    let r = try runProcess(PID1.supervise(["--"] + linger), environment: baseEnvironment(), timeout: 15)
    #expect(r.status == 3 && !r.signaled, "\(r.status) \(r.stderr)")
    #expect(PID1.processes(withArgument: token).isEmpty, "the namespace's end kills the lingerers")

    // Not PID 1: comfy-init still returns at once; the namespace's PID 1 (sh) ends the lingerers.
    let tmp = TempDir("pid1-linger")
    let rcFile = tmp.path + "/rc"
    let r2 = try runProcess(
      PID1.namespace(["/bin/sh", "-c", #""$@"; echo $? > "$RC""#, "sh", Paths.comfyInit, "supervise", "--"] + linger),
      environment: baseEnvironment().merging(["RC": rcFile]) { $1 }, timeout: 15)
    #expect(r2.status == 0 && !r2.signaled)
    #expect((try? String(contentsOfFile: rcFile, encoding: .utf8)) == "3\n")
    #expect(PID1.processes(withArgument: token).isEmpty)
  }

  @Test func thousandStartExitCyclesLeakNothing() throws {
    let tmp = TempDir("pid1-cycles")
    let report = tmp.path + "/report.json"
    let r = try runProcess(
      PID1.supervise(["--", PID1.python, PID1.fixture("cycles.py"), "1000", report, Paths.comfyInit]),
      environment: baseEnvironment(), timeout: 60)
    #expect(r.status == 0 && !r.signaled, "\(r.stderr)")
    let result = try PID1.readJSON(PID1.CycleReport.self, report)
    print(
      "PID1 1000 orphan cycles: \(result.orphanSeconds) s; 1000 sequential supervise runs: \(result.superviseSeconds) s"
    )
    #expect(result.fdsAfter == result.fdsBefore, "PID 1's open fds changed")
    #expect(result.fdsBefore.values.contains { $0.contains("signalfd") }, "setup: the fds read are comfy-init's")
    #expect(result.childrenAfter == 0 && result.zombiesAfter == 0, "\(result)")
    #expect(result.superviseFailures == 0)
  }
}

// MARK: - Helpers

enum PID1 {
  static func fixture(_ name: String) -> String { Paths.fixtures + "/pid1/" + name }

  /// The real interpreter (a pyenv shim is a bash script: slower, and one more process in the way).
  static let python: String = {
    let r = try? runProcess(
      ["/usr/bin/env", "python3", "-c", "import sys; print(sys.executable)"], environment: baseEnvironment(),
      timeout: 30)
    let path = r?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    return path.isEmpty ? "/usr/bin/python3" : path
  }()

  static let unshare = which("unshare")

  /// `args` as PID 1 of a new PID namespace with its own /proc, dying with unshare.
  static func namespace(_ args: [String]) -> [String] {
    [unshare, "--pid", "--fork", "--mount-proc", "--kill-child"] + args
  }

  /// `comfy-init supervise ARGS` as PID 1 of a new PID namespace.
  static func supervise(_ args: [String]) -> [String] { namespace([Paths.comfyInit, "supervise"] + args) }

  static func which(_ name: String) -> String {
    let path = baseEnvironment()["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
      return "\(dir)/\(name)"
    }
    return "/usr/bin/" + name
  }
}

extension PID1 {
  /// A namespace running in the background (for signals from outside), its output in a log file.
  final class Run {
    let process: BackgroundProcess

    init(_ superviseArgs: [String], tmp: TempDir) throws {
      process = try BackgroundProcess(
        PID1.supervise(superviseArgs), environment: baseEnvironment(), log: tmp.path + "/pid1.log")
    }

    init(namespace args: [String], tmp: TempDir, environment: [String: String]) throws {
      process = try BackgroundProcess(PID1.namespace(args), environment: environment, log: tmp.path + "/pid1.log")
    }

    var log: String { process.log }

    /// The host pid of the namespace's PID 1 (unshare's child), once `readyFile` exists (the child has
    /// set itself up, so PID 1 has long exec'd); checks that it is PID 1 inside.
    func initPID(after readyFile: String? = nil) -> pid_t? {
      var pid: pid_t? = nil
      let found = pollUntil(10, every: 0.005) {
        if let readyFile, !FileManager.default.fileExists(atPath: readyFile) { return false }
        pid = childPIDs(of: process.pid).first
        return pid != nil
      }
      guard found, let pid, namespacePIDs(of: pid).last == 1 else { return nil }
      return pid
    }

    func wait(timeout: TimeInterval) -> (status: Int32, signaled: Bool)? { process.wait(timeout: timeout) }

    /// Kills unshare, and so the namespace (--kill-child). Tests defer it: that also keeps the
    /// namespace alive to the end of the test, whatever ARC would otherwise decide.
    func stop() { process.stop() }
  }

  /// record-signals.py and its files.
  struct SignalChild {
    let record: String
    let ready: String
    let done: String
    let command: [String]

    init(tmp: TempDir, options: [String] = []) {
      record = tmp.path + "/record"
      ready = tmp.path + "/ready"
      done = tmp.path + "/done"
      command = [PID1.python, PID1.fixture("record-signals.py"), record, ready, done] + options
    }

    /// "child N" / "grandchild N", one per signal received, in order.
    var recorded: [String] {
      ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func finish() { _ = FileManager.default.createFile(atPath: done, contents: nil) }
  }

  /// pty-drive.py: comfy-init as PID 1 and session leader with a pseudo-terminal, as `docker run -it`.
  enum PTY {
    struct Report: Decodable {
      var exit: Int32?
      var output: String
      var record: [String]
      var initStates: [String]
      var foregroundPgrp: Int32?
      var initPgrp: Int32?
      var childPgrp: Int32?
      var initIsSessionLeader: Bool?
      var timeout: Bool?
    }

    static func run(mode: String, childOptions: [String]) throws -> Report {
      let tmp = TempDir("pid1-pty")
      let child = SignalChild(tmp: tmp, options: childOptions)
      let report = tmp.path + "/report.json"
      let command = PID1.namespace(
        [PID1.which("setsid"), "--ctty", Paths.comfyInit, "supervise", "--stop-timeout", "0.5", "--"] + child.command)
      let r = try runProcess(
        [PID1.python, PID1.fixture("pty-drive.py"), report, child.ready, child.record, mode, "--"] + command,
        environment: baseEnvironment(), timeout: 40)
      #expect(r.status == 0, "pty-drive.py: \(r.stderr)")
      return try readJSON(Report.self, report)
    }
  }

  struct OrphanReport: Decodable {
    var initPID: Int
    var orphans: Int
    var adopted: Int
    var left: Int
    var zombies: Int
    enum CodingKeys: String, CodingKey {
      case initPID = "init"
      case orphans, adopted, left, zombies
    }
  }

  struct ChildState: Decodable {
    var argv: [String]
    var environ: [String]
    var cwd: String
    var stdin: String
    var fds: [String: String]
    var sigBlk: String
    var sigPnd: String
    var shdPnd: String
    var pid: Int
    var pgid: Int
  }

  struct CycleReport: Decodable {
    var fdsBefore: [String: String]
    var fdsAfter: [String: String]
    var childrenAfter: Int
    var zombiesAfter: Int
    var superviseFailures: Int
    var orphanSeconds: Double
    var superviseSeconds: Double
  }

  static func readJSON<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
  }

  /// The children of `pid`, from /proc/PID/task/*/children (as seen from the test's namespace).
  static func childPIDs(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
      ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
        .split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
  }

  static func commandName(of pid: pid_t) -> String? {
    (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines)
  }

  /// The state letter of /proc/PID/stat (R, S, T, Z...); nil once the process is gone.
  static func processState(_ pid: pid_t) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let paren = stat.lastIndex(of: ")")
    else { return nil }
    return stat[paren...].split(separator: " ").dropFirst().first.map(String.init)
  }

  /// NSpid: the pid in each namespace from ours inwards (the last is the innermost).
  static func namespacePIDs(of pid: pid_t) -> [Int] {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    return (procStatus(status)["NSpid"] ?? "").split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
  }

  /// "Key:\tvalue" lines of /proc/PID/status.
  static func procStatus(_ text: String) -> [String: String] {
    var fields = [String: String]()
    for line in text.split(separator: "\n") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return fields
  }

  /// Processes (of any namespace) with `argument` among their arguments.
  static func processes(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
      guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
    }
  }
}
