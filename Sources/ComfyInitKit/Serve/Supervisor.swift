// The init loop: wait for signals, forward them to the child's process group, reap every zombie,
// and enforce the stop grace period. One short synchronous loop; no threads, no handlers.
import CInit

#if canImport(Glibc)
  import Glibc
#endif

/// Thrown when a stop signal arrived before or between the bootstrap's steps: not a failure, the next
/// start resumes.
public struct StopRequested: Error {
  public var signal: Int32
}

public final class Supervisor {
  public struct Policy {
    /// Signals rewritten on the way to the child (SIGTERM → SIGINT for ComfyUI, which cleans up only on SIGINT).
    public var translate: [Int32: Int32] = [:]
    /// Seconds between the first stop signal and SIGKILL to the child's group.
    public var stopTimeout: Double = 8
    /// Seconds after the first stop signal at which it is sent once more (nil: never). Python can
    /// swallow a KeyboardInterrupt in a callback ("Exception ignored in ..."); a second one then
    /// still gets a clean exit instead of the SIGKILL.
    public var repeatStopAfter: Double? = nil

    public init(translate: [Int32: Int32] = [:], stopTimeout: Double = 8, repeatStopAfter: Double? = nil) {
      self.translate = translate
      self.stopTimeout = stopTimeout
      self.repeatStopAfter = repeatStopAfter
    }
  }

  public struct Outcome {
    public var status: ExitStatus
    /// True when the child outlived the grace period and was killed.
    public var killedAfterGrace: Bool
    /// Why the auth guard stopped the child, when it did.
    public var refused: String? = nil
  }

  public let signals: SignalChannel
  /// The first stop request (SIGTERM, SIGINT, SIGQUIT) seen in any phase. Steps ask `throwIfStopped`.
  public private(set) var stopSignal: Int32? = nil
  private var stopDeadline: Instant? = nil
  private var stopTimeout: Double = 8
  /// The gate (comfy-gateway), with auth on: its end stops whatever runs (see GateProcess).
  private var gatePid: pid_t? = nil
  /// How the gate ended, once it did.
  public private(set) var gateEnded: ExitStatus? = nil
  /// The gate ended while a child ran and the child has not been told to stop yet.
  private var gateEndPending = false

  public init(signals: SignalChannel) {
    self.signals = signals
    // Not PID 1 (docker run --init, a shell, a test): adopt orphans anyway so they are reaped.
    if getpid() != 1 { _ = cinit_set_child_subreaper() }
  }

  /// Handles signals that arrived while no child was running: stops are remembered, zombies reaped.
  /// Waits up to `timeoutMilliseconds` (0: just looks).
  public func checkSignals(timeoutMilliseconds: Int32 = 0) {
    let received = timeoutMilliseconds > 0 ? signals.wait(timeoutMilliseconds: timeoutMilliseconds) : signals.drain()
    for signal in received where Signals.isStopRequest(signal) {
      noteStop(signal)
    }
    _ = reapAll(watching: -1)
  }

  /// The one answer to "has a stop arrived?": reads pending signals (waiting up to
  /// `timeoutMilliseconds`), then throws StopRequested once a stop signal came, in any phase.
  public func throwIfStopped(waitingMilliseconds timeoutMilliseconds: Int32 = 0) throws(StopRequested) {
    checkSignals(timeoutMilliseconds: timeoutMilliseconds)
    if let signal = stopSignal { throw StopRequested(signal: signal) }
  }

  /// Watches `pid` as the gate: when it ends, a stop as if SIGTERM had come, in any phase.
  func watchGate(_ pid: pid_t) { gatePid = pid }

  /// Starts a child for `wait`: if comfy-init is killed outright (not PID 1), the child must not live
  /// on unsupervised, so it gets SIGKILL when comfy-init dies. A child that failed to exec is already
  /// reaped (ChildProcess.spawn does it).
  func start(_ arguments: [String], options: SpawnOptions) throws(SpawnFailure) -> pid_t {
    var options = options
    options.parentDeathSignal = SIGKILL
    return try ChildProcess.spawn(arguments, options: options)
  }

  /// Waits until `pid` ends, forwarding every signal but SIGCHLD to its process group and reaping
  /// every other child (PID 1 adopts all orphans). `watch` sees the child's output as it arrives and
  /// may demand its end (the auth guard); see ChildWatch.
  func wait(for pid: pid_t, policy: Policy, watch: ChildWatch? = nil) -> Outcome {
    stopTimeout = policy.stopTimeout
    if stopSignal != nil, stopDeadline == nil { stopDeadline = Instant.now().adding(seconds: stopTimeout) }
    var killed = false
    var repeated = policy.repeatStopAfter == nil
    var refused: String? = nil
    while true {
      let repeatDeadline = repeated ? nil : stopDeadline?.adding(seconds: policy.repeatStopAfter! - stopTimeout)
      let check = stopSignal == nil ? watch?.nextCheck : nil
      // Once the group is SIGKILLed only its death is left to wait for: block (a deadline in the past
      // would make every poll return at once and spin a core while a big child's exit takes its time).
      let timeout = killed ? -1 : earliest(repeatDeadline ?? stopDeadline, check)?.millisecondsFromNow ?? -1
      for signal in signals.wait(timeoutMilliseconds: timeout, alsoWakeOn: watch?.wakeOn ?? [])
      where signal != SIGCHLD {
        if Signals.isStopRequest(signal) { noteStop(signal) }
        signalGroup(of: pid, policy.translate[signal] ?? signal)
      }
      watch?.readAvailable()
      if let watch, refused == nil, stopSignal == nil, let failure = watch.refusal(checking: !killed) {
        // Fail closed: no cleanup is owed to a server that must not serve. The caller reports why.
        signalGroup(of: pid, SIGKILL)
        refused = failure
        killed = true
      }
      let reaped = reapAll(watching: pid)
      if gateEndPending, reaped == nil {
        gateEndPending = false
        signalGroup(of: pid, policy.translate[SIGTERM] ?? SIGTERM)
      }
      if let status = reaped {
        watch?.childEnded()
        return Outcome(status: status, killedAfterGrace: killed && refused == nil, refused: refused)
      }
      if let again = repeatDeadline, let stop = stopSignal, again.millisecondsFromNow == 0 {
        let signal = policy.translate[stop] ?? stop
        Log.info(
          "pid \(pid) is still running \(formatDuration(policy.repeatStopAfter!)) after the stop; sending \(Signals.name(signal)) again"
        )
        signalGroup(of: pid, signal)
        repeated = true
      }
      if let deadline = stopDeadline, !killed, deadline.millisecondsFromNow == 0 {
        Log.warn("pid \(pid) did not stop within \(formatDuration(stopTimeout)); sending SIGKILL to its process group")
        signalGroup(of: pid, SIGKILL)
        killed = true
      }
    }
  }

  private func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
    guard let a, let b else { return a ?? b }
    return a.nanoseconds <= b.nanoseconds ? a : b
  }

  /// The child leads its own group; if it left that group, it is at least signalled itself.
  private func signalGroup(of pid: pid_t, _ signal: Int32) {
    if kill(-pid, signal) != 0 && errno == ESRCH { kill(pid, signal) }
  }

  private func noteStop(_ signal: Int32) {
    if stopSignal == nil {
      stopSignal = signal
      stopDeadline = Instant.now().adding(seconds: stopTimeout)
    }
  }

  /// Collects every exited child; returns the status of `pid` when it was among them.
  /// Loops until none is left, because several SIGCHLDs may arrive as one.
  private func reapAll(watching pid: pid_t) -> ExitStatus? {
    var watched: ExitStatus? = nil
    while true {
      var status: Int32 = 0
      let reaped = waitpid(-1, &status, WNOHANG)
      if reaped <= 0 { return watched }
      if reaped == pid { watched = ExitStatus(waitStatus: status) }
      if reaped == gatePid, gateEnded == nil {
        let ended = ExitStatus(waitStatus: status)
        gateEnded = ended
        gateEndPending = true
        Log.error(
          "the gate (comfy-gateway, pid \(reaped)) ended with \(ended.description); stopping: nothing may serve without it"
        )
        noteStop(SIGTERM)
      }
    }
  }
}
