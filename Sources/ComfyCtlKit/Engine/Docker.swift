// Plain `docker` queries: engine, images, one container's state and health.
import Foundation

public struct ContainerState: Sendable {
  public var status: String
  public var health: String
  /// The last health check's output: comfy-init's one line ("installing: bootstrap phase venv ...").
  public var lastHealthOutput: String
  public var exitCode: Int
  public var restartCount: Int
  public var startedAt: String
  /// When the last run ended (after a restart: the run before this one).
  public var finishedAt: String = ""
}

public enum Docker {
  /// The engine answers (`docker info`), or a one-line reason.
  public static func engineProblem() -> String? {
    guard ProcessRunner.which("docker") != nil else {
      return "the docker CLI is not installed; run scripts/docker-engine"
    }
    guard let result = try? ProcessRunner.capture(["docker", "info", "--format", "{{.ServerVersion}}"]) else {
      return "cannot run docker"
    }
    if result.succeeded && !result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return nil }
    return
      "the Docker engine does not answer (\(result.lastLine)); start it (scripts/docker-engine) or check DOCKER_HOST"
  }

  public static func imageExists(_ image: String) -> Bool {
    (try? ProcessRunner.capture(["docker", "image", "inspect", "--format", "{{.Id}}", image]))?.succeeded ?? false
  }

  /// The image's USER ("1000:1000"), or nil when the image is missing.
  public static func imageUser(_ image: String) -> String? {
    guard
      let result = try? ProcessRunner.capture(["docker", "image", "inspect", "--format", "{{.Config.User}}", image]),
      result.succeeded
    else { return nil }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  public static func state(of container: String) throws(CtlError) -> ContainerState {
    let result = try ProcessRunner.capture([
      "docker", "inspect", "--format", "{{.RestartCount}} {{json .State}}", container,
    ])
    let parts = result.stdout.split(separator: " ", maxSplits: 1).map(String.init)
    guard result.succeeded, parts.count == 2,
      let object = (try? JSONSerialization.jsonObject(with: Data(parts[1].utf8))) as? [String: Any]
    else {
      throw CtlError(.containerFailed, "cannot inspect container \(container): \(result.lastLine)")
    }
    let health = object["Health"] as? [String: Any]
    let log = health?["Log"] as? [[String: Any]] ?? []
    let output = (log.last?["Output"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    return ContainerState(
      status: object["Status"] as? String ?? "", health: health?["Status"] as? String ?? "",
      lastHealthOutput: output.split(separator: "\n").last.map(String.init) ?? "",
      exitCode: object["ExitCode"] as? Int ?? 0, restartCount: Int(parts[0]) ?? 0,
      startedAt: object["StartedAt"] as? String ?? "", finishedAt: object["FinishedAt"] as? String ?? "")
  }

  /// `comfy-init health` run in the container right now, independent of the HEALTHCHECK interval: its
  /// output lines, none when it did not run.
  static func healthLines(of container: String) -> [Substring] {
    let result = try? ProcessRunner.capture(["docker", "exec", container, "comfy-init", "health", "--timeout", "2"])
    return result?.stdout.split(separator: "\n") ?? []
  }

  /// The live phase: `comfy-init health`'s last line.
  public static func liveHealth(of container: String) -> String? {
    healthLines(of: container).last.map(String.init)
  }

  /// `comfy-init health --progress` in the container right now: the verdict and, while the models phase
  /// runs, its progress. A comfy-init from before `--progress` refuses the flag (a usage error, exit 2,
  /// nothing on stdout): then plain `health`, and `supported` is false so the caller stops asking.
  static func liveProgress(of container: String, asking: Bool = true) -> (
    progress: ProvisioningProgress, supported: Bool
  ) {
    if asking,
      let result = try? ProcessRunner.capture([
        "docker", "exec", container, "comfy-init", "health", "--progress", "--timeout", "2",
      ]), !(result.status == 2 && result.stdout.isEmpty)
    {
      return (ProvisioningProgress.parse(result.stdout), true)
    }
    return (ProvisioningProgress.parse(healthLines(of: container).joined(separator: "\n")), false)
  }

  /// Whether the container was created with a GPU device request (`--gpus`, Compose's GPU reservation)
  /// or, a swarm task, belongs to a service that reserves a GPU.
  public static func requestsGPU(_ container: String) -> Bool {
    guard
      let result = try? ProcessRunner.capture([
        "docker", "inspect", "--format",
        "{{json .HostConfig.DeviceRequests}}\t{{index .Config.Labels \"com.docker.swarm.service.id\"}}", container,
      ]), result.succeeded
    else { return false }
    let fields = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(
      separator: "\t", omittingEmptySubsequences: false)
    let requests = (try? JSONSerialization.jsonObject(with: Data((fields.first ?? "").utf8))) as? [Any] ?? []
    if !requests.isEmpty { return true }
    // A swarm task has no device request: its service reserves NVIDIA-GPU generic resources instead.
    return fields.count > 1 && !fields[1].isEmpty && serviceReservesGPU(String(fields[1]))
  }

  /// Whether a swarm service reserves the generic resource a GPU is (SwarmEngine.gpuResourceKind).
  public static func serviceReservesGPU(_ service: String) -> Bool {
    guard
      let result = try? ProcessRunner.capture([
        "docker", "service", "inspect", "--format",
        "{{json .Spec.TaskTemplate.Resources.Reservations.GenericResources}}", service,
      ]), result.succeeded,
      let resources = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [[String: Any]]
    else { return false }
    return resources.contains { resource in
      ["DiscreteResourceSpec", "NamedResourceSpec"].contains {
        (resource[$0] as? [String: Any])?["Kind"] as? String == SwarmEngine.gpuResourceKind
      }
    }
  }

  /// `comfy-init health`'s CUDA line in the container ("cuda error: the driver supports CUDA 12.8, this
  /// image's torch needs 13.0 ..."); nil when it has nothing to say.
  public static func cudaVerdict(of container: String) -> String? {
    healthLines(of: container).first { $0.hasPrefix("cuda ") }.map(String.init)
  }

  public static func volumeExists(_ volume: String) -> Bool {
    (try? ProcessRunner.capture(["docker", "volume", "inspect", "--format", "{{.Name}}", volume]))?.succeeded ?? false
  }

  /// The bytes a volume holds, measured in a throwaway container of `image` (the volume may live on
  /// another host than comfyctl, e.g. Docker Desktop's VM); nil when that could not run.
  static func volumeBytes(_ volume: String, image: String) -> Int? {
    guard
      let result = try? ProcessRunner.capture([
        "docker", "run", "--rm", "--network", "none", "--user", "0:0", "--entrypoint", "du", "-v",
        volume + ":/volume:ro", image, "-sb", "/volume",
      ]), result.succeeded
    else { return nil }
    return result.stdout.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
  }

  /// The names of the volumes Compose created for `project`.
  public static func volumes(ofProject project: String) -> [String] {
    let result = try? ProcessRunner.capture([
      "docker", "volume", "ls", "--quiet", "--filter", "label=com.docker.compose.project=\(project)",
    ])
    return result?.stdout.split(separator: "\n").map(String.init) ?? []
  }

  /// The container's recent log lines (for a one-glance reason when it failed), up to the time `until`
  /// (RFC 3339) when given. Docker applies --tail before --until: up to a time, the whole log is read,
  /// with timestamps to put its two streams back in order.
  public static func logTail(of container: String, lines: Int = 5, until: String? = nil) -> [String] {
    let window = until.map { ["--timestamps", "--until", $0] } ?? ["--tail", String(lines)]
    guard let result = try? ProcessRunner.capture(["docker", "logs"] + window + [container]) else {
      return []
    }
    let all = (result.stdout + result.stderr).split(separator: "\n").map(String.init)
    guard until != nil else { return Array(all.suffix(lines)) }
    return all.sorted().suffix(lines).map { String($0.split(separator: " ", maxSplits: 1).dropFirst().first ?? "") }
  }
}
