// Waits until Docker reports the services healthy, with one live progress line (service, phase from
// `comfy-init health --progress` inside the container, elapsed time) and, while models download, a bar
// for each service and each file on a terminal (a plain line otherwise, at most every
// `plainInterval` seconds unless what it says changes). A container that exits or restarts ends the
// wait at once with its last log line, instead of a timeout minutes later.
import Foundation
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

public struct HealthWaiter {
  /// The deployment's containers now: Compose's, or the containers of a swarm stack's current tasks.
  public let listContainers: () throws(CtlError) -> [ContainerInfo]
  public let services: [String]
  public let timeout: Double
  public var output: Console = Console()
  /// Why a service has no container yet, where the engine knows (swarm: "pending: no suitable node").
  public var pendingReason: (String) -> String? = { _ in nil }
  /// Without a terminal, a progress line whose words did not change is printed again only this often:
  /// byte counts change every poll, and a CI log should not get two lines a second.
  public var plainInterval = 10.0

  public init(compose: ComposeEngine, services: [String], timeout: Double) {
    self.init(services: services, timeout: timeout) { () throws(CtlError) in try compose.containers() }
  }

  public init(
    services: [String], timeout: Double, listContainers: @escaping () throws(CtlError) -> [ContainerInfo]
  ) {
    self.listContainers = listContainers
    self.services = services
    self.timeout = timeout
  }

  /// Seconds until every service was healthy.
  @discardableResult
  public func waitUntilHealthy() throws(CtlError) -> Double {
    let started = Instant.now()
    var baselineRestarts: [String: Int] = [:]
    var healthy = Set<String>()
    var lastShape = ""
    var lastPrinted: Instant?
    var shown = 0
    var lastDetail: [String: String] = [:]
    var progress: [String: ProvisioningProgress] = [:]
    // Containers whose comfy-init refused `health --progress` (older images): asked plainly from then on.
    var withoutProgress = Set<String>()
    defer { output.endProgress(replacing: shown) }
    while true {
      let elapsed = started.secondsSince
      let containers = try listContainers().filter { services.contains($0.service) }
      for service in services where !healthy.contains(service) {
        guard let container = containers.first(where: { $0.service == service }) else {
          lastDetail[service] = pendingReason(service) ?? "no container yet"
          continue
        }
        let state: ContainerState
        do {
          state = try Docker.state(of: container.id)
        } catch {
          // Listed a moment ago and gone now: a swarm task whose container was replaced (seen on a first
          // deploy). Only a container that is still listed and cannot be inspected is a failure.
          guard try listContainers().contains(where: { $0.id == container.id }) else {
            lastDetail[service] = "its container was replaced; waiting for the next one"
            continue
          }
          throw error
        }
        if baselineRestarts[service] == nil { baselineRestarts[service] = state.restartCount }
        if state.health == "healthy" {
          healthy.insert(service)
          output.endProgress(replacing: shown)
          shown = 0
          output.say("\(service): healthy after \(Console.seconds(elapsed))")
          continue
        }
        if state.status == "exited" || state.status == "dead" || state.restartCount > baselineRestarts[service]! {
          // Restarted and running again (the restart policy), Docker describes the new run: exit code 0
          // and its own lines. The run that stopped ended at FinishedAt: its last line is the one before.
          let rerun = state.status == "running"
          let reason =
            Docker.logTail(of: container.id, lines: 1, until: rerun ? state.finishedAt : nil).first ?? "no log output"
          let what = rerun ? "stopped and was restarted" : "stopped (exit code \(state.exitCode))"
          throw CtlError(.containerFailed, "\(service) \(what) while starting: \(reason); see `comfyctl logs`")
        }
        if state.health == "" && state.status == "running" {
          throw CtlError(
            .containerFailed, "\(service) has no health check; the image was not built from this Dockerfile")
        }
        let asked = Docker.liveProgress(of: container.id, asking: !withoutProgress.contains(container.id))
        if !asked.supported { withoutProgress.insert(container.id) }
        progress[service] = asked.progress.hasDetail ? asked.progress : nil
        let live = asked.progress.verdict ?? state.lastHealthOutput
        // The server answers before Docker's next check marks it healthy: say so, not "ok".
        lastDetail[service] = live.hasPrefix("ok:") ? "answering; waiting for Docker's health check" : live
      }
      if healthy.count == services.count { return started.secondsSince }
      guard elapsed < timeout else {
        let waiting = services.filter { !healthy.contains($0) }
        let detail = waiting.map { "\($0): \(lastDetail[$0] ?? "?")" }.joined(separator: "; ")
        throw CtlError(
          .healthTimeout,
          "not healthy after \(Int(timeout)) s (\(detail)); see `comfyctl logs`, or wait longer with --wait-timeout")
      }
      let waiting = services.filter { !healthy.contains($0) }
      let line = waiting.map { "\($0): \(lastDetail[$0] ?? "starting")" }.joined(separator: " | ")
      var lines = ["[\(Console.seconds(elapsed))] \(line)"]
      for service in waiting {
        guard let detail = progress[service] else { continue }
        lines +=
          output.isTerminal
          ? detail.barLines(label: service, width: Console.columns) : ["  \(service): \(detail.summary)"]
      }
      if output.isTerminal {
        lines[0] = ProvisioningProgress.fit(lines[0], Console.columns)
        shown = output.progress(lines, replacing: shown)
      } else {
        // The words without their numbers: a new phase or file prints at once, new byte counts only
        // every plainInterval seconds.
        let shape = lines.joined(separator: "\n").filter { !$0.isNumber }
        if shape != lastShape || lastPrinted.map({ $0.secondsSince >= plainInterval }) ?? true {
          _ = output.progress(lines, replacing: 0)
          lastShape = shape
          lastPrinted = Instant.now()
        }
      }
      usleep(500_000)
    }
  }
}
