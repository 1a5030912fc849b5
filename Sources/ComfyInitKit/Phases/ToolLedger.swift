// The tools a start runs (git, python -m venv, pip, uv) never outlive its hold on the home. comfy-init
// killed alone (not PID 1: outside a container, or a supervisor that kills only its pid) takes its
// direct children with it (their parent-death signal), but not theirs: `python -m venv` runs ensurepip
// as a child of its own, which went on writing pip into the venv while the next start moved that venv
// aside and made a new one, and the new venv's pip came out broken. An inherited lock descriptor
// would not hold them: Python's subprocess closes every descriptor but 0, 1 and 2 in its children.
// The environment is what they do inherit: every tool gets a mark (COMFY_INIT_TOOLS=random), which a
// file in the state folder names while tools may run. The next start, holding the lock, ends every
// process that carries the mark before any repair; a start that ends normally ends its own
// stragglers (a detached `git gc`) before it lets the lock go.
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

final class ToolLedger {
  static let variable = "COMFY_INIT_TOOLS"

  let layout: HomeLayout
  /// This start's mark: random, so that no other start's tools (or anyone else's processes) match.
  let mark: String
  private var recorded = false

  init(layout: HomeLayout) {
    self.layout = layout
    var random = SystemRandomNumberGenerator()
    mark = String(random.next() as UInt64, radix: 16) + String(random.next() as UInt64, radix: 16)
  }

  /// What each tool's environment gets.
  var environment: [String: String] { [ToolLedger.variable: mark] }

  /// Before the first tool of this start: the marker file names the mark, so that a start after a
  /// kill finds the tools. A warm start runs no tool and writes nothing.
  func recordBeforeFirstTool() throws(InitError) {
    guard !recorded else { return }
    do {
      try FileSystem.writeAtomically(layout.toolsMarker, "mark=\(mark)\npid=\(getpid())\n", durable: false)
    } catch {
      throw InitError(.filesystem, "cannot write \(layout.toolsMarker): \(error); make COMFYUI_STATE_DIR writable")
    }
    recorded = true
  }

  /// Before the lock goes: whatever this start's tools left running is ended, then the marker removed.
  func release(supervisor: Supervisor) {
    guard recorded else { return }
    do {
      // Not cut short by a stop: SIGKILL needs no grace, and a stop is what this start is ending on.
      try ToolLedger.end(mark: mark, supervisor: nil, whose: "this start's")
      unlink(layout.toolsMarker)
    } catch {
      // The marker stays: the next start ends them.
      Log.warn("lock: \((error as? InitError)?.message ?? "\(error)")")
    }
    recorded = false
  }

  /// Right after the lock is taken: the tools of a start that was killed while they ran, still
  /// running (and writing into the home), are ended before anything looks at what they left.
  static func endLeftovers(_ layout: HomeLayout, supervisor: Supervisor) throws {
    guard let text = FileSystem.readState(layout.toolsMarker, limit: 512) else { return }
    let fields = text.split(separator: "\n")
    if let line = fields.first(where: { $0.hasPrefix("mark=") }), line.count > 5 {
      try end(mark: String(line.dropFirst(5)), supervisor: supervisor, whose: "an earlier start's")
    }
    unlink(layout.toolsMarker)
  }

  /// SIGKILLs every process whose environment carries `mark`, and waits until each has ended (a
  /// zombie counts: it writes nothing). Looked for again after each round: one may have started a child.
  /// With `supervisor`, a stop request ends the wait.
  static func end(mark: String, supervisor: Supervisor?, whose: String) throws {
    let needle = Array("\(variable)=\(mark)".utf8)
    var ended: [pid_t] = []
    let deadline = Instant.now().adding(seconds: 10)
    while true {
      let found = ProcessTable.others().filter { pid in
        Config.environment(ofProcess: pid).contains { $0.elementsEqual(needle) }
      }
      if found.isEmpty { break }
      if deadline.millisecondsFromNow == 0 {
        throw InitError(
          .lock,
          "tools of \(whose) comfy-init (pids \(found.map(String.init).joined(separator: " "))) do not end; they may still write into the home: end them, then start again"
        )
      }
      for pid in found where kill(pid, SIGKILL) != 0 && errno == EPERM {
        throw InitError(
          .lock,
          "pid \(pid), a tool of \(whose) comfy-init, cannot be ended by uid \(geteuid()); end it, then start again")
      }
      ended += found.filter { !ended.contains($0) }
      if let supervisor { try supervisor.throwIfStopped(waitingMilliseconds: 20) } else { usleep(20_000) }
    }
    if !ended.isEmpty {
      Log.warn(
        "lock: ended \(ended.count) tool process(es) of \(whose) comfy-init that were still running (pids \(ended.map(String.init).joined(separator: " "))), before anything repairs what they wrote"
      )
    }
  }
}
