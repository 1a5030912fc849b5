// The engine that runs a project's containers, chosen once when the stack is opened (`Stack.open`):
// Compose or Swarm. Commands call the engine and never ask which one it is, so Kubernetes or the fleet
// gateway would be one more type conforming to `Engine`, not a branch in every command.

protocol Engine {
  /// The project name: Compose's project, the swarm's stack (the same name on either engine).
  var name: String { get }
  /// What `status` says about the engine before the containers; nil when there is nothing to say.
  var summary: String? { get }

  /// Makes this host ready for `deploy`, before anything is built or written (`up`'s first checks).
  func prepareHost(gpu: Bool, console: Console) throws(CtlError)
  /// Starts `deployment` and waits until its services are healthy; returns the seconds that took.
  func deploy(_ deployment: Deployment, console: Console) throws(CtlError) -> Double
  /// The project's containers, stopped ones included.
  func containers() throws(CtlError) -> [ContainerInfo]
  /// `status`'s lines about services that have no container to show.
  func describeMissing(_ containers: [ContainerInfo]) -> [String]
  /// Restarts what runs, so that the server rereads the secret, and waits until healthy; returns the
  /// services restarted.
  func restart(timeout: Double, console: Console) throws(CtlError) -> [String]
  /// Stops `services` at once (the auth gate's last resort); nil when the command did not run.
  func stop(_ services: [String]) -> ProcessOutput?
  /// The services' logs (all when empty) through `filter`, to stdout.
  func streamLogs(
    _ services: [String], tail: String, follow: Bool, filter: @escaping @Sendable (String) -> String
  ) throws(CtlError)
  /// Removes the containers and network (and with `volumes` the volumes), and says so.
  func remove(volumes: Bool, console: Console) throws(CtlError)
}

extension Engine {
  /// Running ComfyUI containers; empty when the engine is not reachable (then nothing can run).
  func runningContainers() -> [ContainerInfo] {
    guard Docker.engineProblem() == nil, let containers = try? self.containers() else { return [] }
    return containers.filter { $0.state == "running" || $0.state == "restarting" }
  }
}

/// One container of the project, as either engine lists it.
public struct ContainerInfo: Sendable, Equatable {
  public var id: String
  public var name: String
  public var service: String
  /// created, running, restarting, exited, ...
  public var state: String
  /// healthy, unhealthy, starting, or empty.
  public var health: String
}

/// What `up` asks an engine to start.
struct Deployment {
  var instances: [Instance]
  /// `--profile`: the instances beyond the main one.
  var profiles: [String]
  var cpuOnly: Bool
  /// Variables Compose interpolates for this start only (COMFYUI_IMAGE for --tag, COMFYUI_SKIP_MODELS).
  var environment: [String: String]
  var image: String
  /// Seconds to wait for healthy.
  var timeout: Double

  var services: [String] { instances.map(\.service) }
  var cpuNote: String { cpuOnly ? " (CPU only)" : "" }
}

/// Which engine `Stack.open` gives a command.
enum EngineChoice {
  /// The engine that runs the project now (every command but `up`): a swarm stack when this engine is a
  /// swarm manager with services of the stack (their `com.docker.stack.namespace` label), Compose
  /// otherwise, nothing deployed included (then Compose's commands say "not running").
  case running
  /// `up`: Compose.
  case compose
  /// `up --swarm`; `initSwarm` makes this engine a single-node swarm when it is in none.
  case swarm(initSwarm: Bool, advertiseAddr: String?)
}
