// A project's stack as the commands see it: its settings and its engine, chosen once when it is opened.
// `status`, `logs`, `validate`, `restart`, `secrets` and `down` find the engine that runs the project;
// `up` names the one it deploys to.

struct Stack {
  let project: Project
  let settings: Settings
  let engine: any Engine

  /// Asks Docker once which engine runs the project (`.running`), or takes the one `up` names.
  static func open(project: Project, choosing choice: EngineChoice = .running) throws(CtlError) -> Stack {
    let settings = Settings(project: project)
    var swarm = try SwarmEngine(project: project, settings: settings)
    let compose = try ComposeEngine(project: project, settings: settings, profiles: ["*"])
    switch choice {
    case .running:
      let swarmRuns = SwarmNode.isManager() && !swarm.services().isEmpty
      return Stack(project: project, settings: settings, engine: swarmRuns ? swarm : compose)
    case .compose:
      return Stack(project: project, settings: settings, engine: compose)
    case .swarm(let initSwarm, let advertiseAddr):
      swarm.initSwarm = initSwarm
      swarm.advertiseAddr = advertiseAddr
      return Stack(project: project, settings: settings, engine: swarm)
    }
  }

  /// Restarts the running services, then requires that they refuse callers without credentials.
  @discardableResult
  func restartRunning(timeout: Double, console: Console) throws(CtlError) -> [String] {
    let services = try engine.restart(timeout: timeout, console: console)
    try stopUnlessAuthEnforced(services)
    return services
  }

  func instance(for service: String) -> Instance? { Instance.all.first { $0.service == service } }

  /// The project's models volumes, external to either engine.
  var modelsVolumes: ModelsVolumes { ModelsVolumes(settings: settings, projectName: engine.name) }
}
