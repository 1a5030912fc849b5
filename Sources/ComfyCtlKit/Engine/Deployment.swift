// Which engine runs a project: the one owner of that question. `status`, `logs`, `validate`,
// `restart`, `secrets rotate` and `down` ask here instead of assuming Compose. A swarm stack is
// recognised by its services' `com.docker.stack.namespace` label, a Compose project by its
// containers' `com.docker.compose.project` label; both carry the project name.

public enum Deployment: Sendable, Equatable {
  /// `docker compose`, or nothing deployed at all (then Compose's commands say "not running").
  case compose
  /// `docker stack deploy` (`comfyctl up --swarm`).
  case swarm

  /// Swarm when this engine is a manager and has services of the stack; Compose otherwise.
  public static func detect(swarm: SwarmStack) -> Deployment {
    guard SwarmNode.isManager(), !swarm.services().isEmpty else { return .compose }
    return .swarm
  }
}
