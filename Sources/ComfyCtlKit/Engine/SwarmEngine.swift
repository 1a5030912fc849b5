// The Swarm engine: the same compose files deployed as a Docker Swarm stack (`comfyctl up --swarm`). `docker stack
// deploy` reads only Compose file format 3 and refuses or ignores much of what `docker compose` does,
// so the file Compose interpolates (`docker compose config`, with .env, --cpu and the profiles) is
// translated here, each difference handled rather than dropped: profiles become the services listed,
// `restart:` becomes `deploy.restart_policy`, GPU device reservations become NVIDIA-GPU generic
// resources, ports are published in host mode (swarm has no host IP: see portRule), and the secret
// gets a name made from its content, because swarm secrets are immutable.
import Digest
import Foundation
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

public struct SwarmEngine: Engine, Sendable {
  /// The label swarm puts on everything `docker stack deploy` creates; comfyctl puts it on the
  /// versioned secrets it creates itself, so `down` finds them all.
  public static let namespaceLabel = "com.docker.stack.namespace"
  /// The generic resource kind NVIDIA's container runtime hands out (docs/deploy.md: node setup).
  public static let gpuResourceKind = "NVIDIA-GPU"
  /// The compose files' secret; its file name in the container stays this (/run/secrets/...).
  public static let secretKey = "comfyui_password_hash"

  public let project: Project
  public let settings: Settings
  /// The stack name: the project name, so that a folder has one name on either engine.
  public let name: String
  /// `up --swarm --init-swarm`: `prepareHost` makes this engine a single-node swarm when it is in none.
  var initSwarm = false
  /// `--advertise-addr`: the address such a new swarm advertises.
  var advertiseAddr: String?

  public init(project: Project, settings: Settings) throws(CtlError) {
    self.project = project
    self.settings = settings
    self.name = try ProjectName.resolve(settings: settings, project: project).name
  }

  /// Said by `up --swarm` and in docs/deploy.md: what COMFYUI_BIND cannot do on a swarm.
  public static let portRule =
    "swarm publishes each port in host mode on every interface of the node that runs the service "
    + "(swarm has no host IP, so COMFYUI_BIND does not apply): firewall the port or put a TLS proxy in front"

  public func service(_ composeService: String) -> String { name + "_" + composeService }

  var summary: String? { "swarm stack \(name): \(SwarmEngine.portRule)" }

  // MARK: - The stack file

  /// The secret's swarm name for this content: the same hash file always gives the same name, so a
  /// redeploy with an unchanged credential changes nothing and a rotated one gets a new secret.
  public func secretName(forContent content: String) -> String {
    secretName(forKey: SwarmEngine.secretKey, content: content)
  }

  /// The same for any of the compose file's secrets (the model hosts' tokens too): a changed token is a
  /// new secret, which the next `up --swarm` moves the services onto.
  public func secretName(forKey key: String, content: String) -> String {
    name + "_" + key + "_" + String(SHA256.hexHash(content).prefix(12))
  }

  public func currentSecretName() throws(CtlError) -> String {
    secretName(forContent: try FileOps.read(project.hashFile))
  }

  /// `docker compose config --format json` for these services, then the translation.
  public func render(cpu: Bool, profiles: [String], environment: [String: String]) throws(CtlError) -> (
    file: [String: Any], notes: [String]
  ) {
    let compose = try ComposeEngine(project: project, settings: settings, cpu: cpu, profiles: profiles)
    let result = try ProcessRunner.capture(
      compose.baseArguments + ["config", "--format", "json"], environment: environment, directory: project.root)
    guard result.succeeded,
      let config = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
    else { throw CtlError(.composeFailed, "docker compose config failed: \(result.lastLine)") }
    var secretNames: [String: String] = [:]
    for (key, value) in config["secrets"] as? [String: Any] ?? [:] {
      guard let file = (value as? [String: Any])?["file"] as? String else { continue }
      let content = try FileOps.read(file)
      // Swarm refuses an empty secret: a token the user gave none of is left out (translate drops its
      // variable too), and comfy-init runs without it.
      if !content.isEmpty { secretNames[key] = secretName(forKey: key, content: content) }
    }
    return SwarmEngine.translate(config, secretNames: secretNames, uid: Int(settings.uid), gid: Int(settings.gid))
  }

  /// Compose's interpolated config (JSON) to a stack file (format 3.9, written as JSON, which YAML
  /// reads). `secretNames` maps each compose secret to its swarm name; one without a name is left out,
  /// with the variables that point at its file. Returns the notes `up` prints about what changed
  /// meaning on the way.
  public static func translate(_ config: [String: Any], secretNames: [String: String], uid: Int, gid: Int) -> (
    file: [String: Any], notes: [String]
  ) {
    var notes: [String] = []
    var services: [String: Any] = [:]
    var volumes: [String: Any] = [:]
    var gpuServices: [String] = []
    for (serviceName, value) in (config["services"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
      guard let source = value as? [String: Any] else { continue }
      var service: [String: Any] = [:]
      for key in ["image", "environment", "healthcheck", "stop_grace_period", "cap_drop", "cap_add", "labels"] {
        if let value = source[key] { service[key] = value }
      }
      // A secret file readable by the image's user only: swarm writes it with these owner fields.
      let keys = (source["secrets"] as? [[String: Any]] ?? []).map { $0["source"] as? String ?? secretKey }
      service["secrets"] = keys.filter { secretNames[$0] != nil }.map { key -> [String: Any] in
        ["source": key, "target": key, "uid": String(uid), "gid": String(gid), "mode": 0o400]
      }
      let leftOut = Set(keys.filter { secretNames[$0] == nil }.map { "/run/secrets/" + $0 })
      if let environment = service["environment"] as? [String: Any], !leftOut.isEmpty {
        service["environment"] = environment.filter { !leftOut.contains($0.value as? String ?? "") }
      }
      // Host mode: the port opens where the task runs, as Compose does, not on every node via the
      // ingress mesh. Neither can keep COMFYUI_BIND's address (portRule).
      service["ports"] = (source["ports"] as? [[String: Any]] ?? []).map { port -> [String: Any] in
        let published = (port["published"] as? String).flatMap { Int($0) } ?? port["published"] as? Int ?? 0
        return ["target": port["target"] as? Int ?? 8188, "published": published, "protocol": "tcp", "mode": "host"]
      }
      var mounts: [[String: Any]] = []
      for mount in source["volumes"] as? [[String: Any]] ?? [] {
        var copy = mount
        copy.removeValue(forKey: "volume")
        if copy["type"] as? String == "volume", let name = copy["source"] as? String {
          // An external volume (the shared models) keeps its own name: stack deploy neither creates
          // nor prefixes it, and stack rm never removes it.
          let declared = (config["volumes"] as? [String: Any])?[name] as? [String: Any] ?? [:]
          if declared["external"] as? Bool == true, let external = declared["name"] as? String {
            volumes[name] = ["external": true, "name": external] as [String: Any]
          } else {
            volumes[name] = [String: Any]()
          }
        }
        mounts.append(copy)
      }
      service["volumes"] = mounts
      var deploy: [String: Any] = [
        "replicas": 1,
        // One copy at a time: a GPU cannot hold two, and a failed health check goes back.
        "update_config": ["parallelism": 1, "order": "stop-first", "failure_action": "rollback", "monitor": "5s"]
          as [String: Any],
        "rollback_config": ["parallelism": 1, "order": "stop-first"] as [String: Any],
        "restart_policy": ["condition": restartCondition(source["restart"] as? String)],
      ]
      let devices =
        ((source["deploy"] as? [String: Any])?["resources"] as? [String: Any]).flatMap {
          ($0["reservations"] as? [String: Any])?["devices"] as? [[String: Any]]
        } ?? []
      let gpus = devices.reduce(0) { $0 + gpuCount(of: $1) }
      if gpus > 0 {
        let spec: [String: Any] = ["kind": gpuResourceKind, "value": gpus]
        let reservations: [String: Any] = ["generic_resources": [["discrete_resource_spec": spec]]]
        deploy["resources"] = ["reservations": reservations]
        gpuServices.append(serviceName)
      }
      service["deploy"] = deploy
      services[serviceName] = service
    }
    if !gpuServices.isEmpty {
      notes.append(
        "GPU: \(gpuServices.joined(separator: ", ")) reserve \(gpuResourceKind) generic resources: only nodes "
          + "that advertise them run these (docs/deploy.md, Swarm); device ids do not pin a GPU on a swarm")
    }
    let composeServices = config["services"] as? [String: Any] ?? [:]
    if composeServices.values.contains(where: { ($0 as? [String: Any])?["security_opt"] != nil }) {
      notes.append("swarm services cannot set no-new-privileges (security_opt); capabilities are still all dropped")
    }
    var file: [String: Any] = ["version": "3.9", "services": services, "volumes": volumes]
    var secrets: [String: Any] = [:]
    for (key, secretName) in secretNames {
      if let secretFile = ((config["secrets"] as? [String: Any])?[key] as? [String: Any])?["file"] {
        secrets[key] = ["name": secretName, "file": secretFile] as [String: Any]
      }
    }
    if !secrets.isEmpty { file["secrets"] = secrets }
    return (file, notes)
  }

  /// Compose's `restart:` as swarm's restart condition (swarm has no "unless-stopped": `down` or a
  /// scale to 0 is what stops a service there).
  static func restartCondition(_ restart: String?) -> String {
    switch restart {
    case "no", nil: return "none"
    case let value? where value.hasPrefix("on-failure"): return "on-failure"
    default: return "any"
    }
  }

  /// GPUs one device reservation asks for: its count, or how many ids it names ("0,1" is two).
  static func gpuCount(of device: [String: Any]) -> Int {
    let capabilities = device["capabilities"] as? [String] ?? []
    guard capabilities.contains("gpu") || device["driver"] as? String == "nvidia" else { return 0 }
    if let count = device["count"] as? Int { return max(count, 1) }
    let ids = (device["device_ids"] as? [String] ?? []).flatMap { $0.split(separator: ",") }
    return max(ids.count, 1)
  }

  // MARK: - Engine

  /// `docker stack deploy` of the rendered file; the file lives in a private temporary folder only
  /// while the CLI reads it (it names the secret file, never holds the secret).
  public func deploy(_ file: [String: Any]) throws(CtlError) {
    let dir = NSTemporaryDirectory() + "comfyctl-stack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileOps.makeDirectory(dir, mode: 0o700)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/stack.json"
    guard
      let data = try? JSONSerialization.data(
        withJSONObject: file, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    else {
      throw CtlError(.composeFailed, "cannot write the stack file")
    }
    try FileOps.writeAtomically(path, String(decoding: data, as: UTF8.self), mode: 0o600)
    // A local image has no registry digest to resolve; every node must have the image itself.
    let result = try ProcessRunner.capture([
      "docker", "stack", "deploy", "--resolve-image", "never", "--compose-file", path, name,
    ])
    guard result.succeeded else { throw CtlError(.composeFailed, "docker stack deploy failed: \(result.lastLine)") }
  }

  /// Stack deploy only talks to a swarm manager. Making this engine one changes it for every other
  /// user of it, so it happens only when asked (--init-swarm) or agreed to on a terminal. On a swarm the
  /// GPU is the nodes' business (generic resources), not this host's runtime: `gpu` is not checked here.
  func prepareHost(gpu: Bool, console: Console) throws(CtlError) {
    guard !SwarmNode.isManager() else { return }
    let state = SwarmNode.state()
    guard state == "inactive" else {
      throw CtlError(
        .notASwarmManager,
        "this engine's swarm state is \(state), not a manager's; run `comfyctl up --swarm` on a manager node")
    }
    guard
      initSwarm
        || Console.confirm("This Docker engine is in no swarm. Make it a single-node swarm (docker swarm init)?")
    else {
      throw CtlError(
        .notASwarmManager,
        "this Docker engine is in no swarm; pass --init-swarm to make it a single-node one, or run `docker swarm init`")
    }
    var args = ["docker", "swarm", "init"]
    if let advertiseAddr { args += ["--advertise-addr", advertiseAddr] }
    let result = try ProcessRunner.capture(args)
    guard result.succeeded else { throw CtlError(.composeFailed, "docker swarm init failed: \(result.lastLine)") }
    console.say("swarm: this engine is now a single-node swarm manager (`docker swarm leave --force` undoes it)")
  }

  /// The compose file translated, deployed, then waited for: swarm has no depends_on and no health gate
  /// of its own, so each task's container is watched until healthy.
  func deploy(_ deployment: Deployment, console: Console) throws(CtlError) -> Double {
    if services().isEmpty,
      !(try ComposeEngine(project: project, settings: settings, profiles: ["*"])).runningContainers().isEmpty
    {
      throw CtlError(
        .composeFailed, "project \(name) runs under docker compose; stop it with `comfyctl down` before `up --swarm`")
    }
    let models = ModelsVolumes(settings: settings, projectName: name)
    try models.create(for: deployment.instances, console: console)
    for line in models.describeLegacy(for: deployment.instances, image: deployment.image) { console.warn(line) }
    let (file, notes) = try render(
      cpu: deployment.cpuOnly, profiles: deployment.profiles, environment: deployment.environment)
    console.say("deploying swarm stack \(name): \(deployment.services.joined(separator: ", "))\(deployment.cpuNote)")
    for note in notes { console.say("swarm: \(note)") }
    console.say("swarm: \(SwarmEngine.portRule)")
    try deploy(file)
    let elapsed = try waitUntilHealthy(deployment.services, timeout: deployment.timeout, console: console)
    removeUnusedSecrets(keeping: try currentSecretName())
    return elapsed
  }

  func stop(_ services: [String]) -> ProcessOutput? {
    try? ProcessRunner.capture(["docker", "service", "scale"] + services.map { service($0) + "=0" })
  }

  /// `docker service logs` takes one service: each in turn, or, following, all side by side.
  func streamLogs(
    _ services: [String], tail: String, follow: Bool, filter: @escaping @Sendable (String) -> String
  ) throws(CtlError) {
    var args = ["docker", "service", "logs", "--tail", tail]
    if follow { args.append("--follow") }
    let commands = (services.isEmpty ? self.services() : services).map { args + [service($0)] }
    if follow {
      let status = ProcessRunner.streamFilteredSideBySide(commands, filter: filter)
      if status != 0 { throw CtlError(.composeFailed, "docker service logs failed (exit \(status))") }
      return
    }
    for command in commands {
      let status = try ProcessRunner.streamFiltered(command, filter: filter)
      if status != 0 { throw CtlError(.composeFailed, "docker service logs failed (exit \(status))") }
    }
  }

  /// A line for each service of the stack without a task container on this node, and why.
  func describeMissing(_ containers: [ContainerInfo]) -> [String] {
    services().filter { service in !containers.contains { $0.service == service } }.map {
      "\($0): \(taskProblem($0) ?? "no task container on this node")"
    }
  }

  /// Waits for the containers of the services' current tasks, saying why a task has none yet.
  @discardableResult
  private func waitUntilHealthy(_ services: [String], timeout: Double, console: Console) throws(CtlError) -> Double {
    var waiter = HealthWaiter(services: services, timeout: timeout) { () throws(CtlError) in try containers() }
    waiter.output = console
    waiter.pendingReason = { taskProblem($0) }
    return try waiter.waitUntilHealthy()
  }

  /// The stack's services, by their compose names (comfyui, comfyui-flux, ...).
  public func services() -> [String] {
    lines(
      try? ProcessRunner.capture([
        "docker", "service", "ls", "--filter", "label=\(SwarmEngine.namespaceLabel)=\(name)",
        "--format", "{{.Name}}",
      ])
    )
    .filter { $0.hasPrefix(name + "_") }.map { String($0.dropFirst(name.count + 1)) }.sorted()
  }

  /// The containers of the tasks swarm wants running, newest first, as compose-style rows; a task
  /// that has no container yet is missing here and `taskProblem` says why.
  public func containers() throws(CtlError) -> [ContainerInfo] {
    var wanted = Set<String>()
    for service in services() {
      wanted.formUnion(
        lines(
          try? ProcessRunner.capture([
            "docker", "service", "ps", "--quiet", "--no-trunc", "--filter", "desired-state=running",
            self.service(service),
          ])))
    }
    let result = try ProcessRunner.capture([
      "docker", "ps", "-a", "--no-trunc", "--filter", "label=\(SwarmEngine.namespaceLabel)=\(name)", "--format",
      "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label \"com.docker.swarm.service.name\"}}\t"
        + "{{.Label \"com.docker.swarm.task.id\"}}",
    ])
    guard result.succeeded else { throw CtlError(.dockerUnavailable, "docker ps failed: \(result.lastLine)") }
    return result.stdout.split(separator: "\n").compactMap { line -> ContainerInfo? in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count == 5, wanted.contains(fields[4]), fields[3].hasPrefix(name + "_") else { return nil }
      return ContainerInfo(
        id: fields[0], name: fields[1], service: String(fields[3].dropFirst(name.count + 1)), state: fields[2],
        health: "")
    }
  }

  /// Why a service's task is not running yet, from swarm ("pending: no suitable node (insufficient
  /// resources on 1 node)"); nil when it runs or nothing is known.
  public func taskProblem(_ composeService: String) -> String? {
    let rows = lines(
      try? ProcessRunner.capture([
        "docker", "service", "ps", "--no-trunc", "--filter", "desired-state=running", "--format",
        "{{.CurrentState}}\t{{.Error}}", service(composeService),
      ]))
    guard let row = rows.first else { return nil }
    let parts = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    let state = parts[0].split(separator: " ").first.map(String.init) ?? parts[0]
    let error = parts.count > 1 ? parts[1] : ""
    if state.lowercased() == "running" && error.isEmpty { return nil }
    return error.isEmpty ? state.lowercased() : "\(state.lowercased()): \(error)"
  }

  /// The secrets of the stack (stack deploy's and the versioned ones comfyctl created).
  public func secrets() -> [String] {
    lines(
      try? ProcessRunner.capture([
        "docker", "secret", "ls", "--filter", "label=\(SwarmEngine.namespaceLabel)=\(name)", "--format", "{{.Name}}",
      ]))
  }

  /// The credential's secret a service mounts now.
  func mountedSecret(_ composeService: String) -> String? {
    mountedSecrets(composeService).first { $0.hasPrefix(name + "_" + SwarmEngine.secretKey) }
  }

  /// Every secret a service mounts now (the credential's and the tokens').
  func mountedSecrets(_ composeService: String) -> [String] {
    lines(
      try? ProcessRunner.capture([
        "docker", "service", "inspect", "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}}\n{{end}}", service(composeService),
      ]))
  }

  /// Creates the secret for the current hash file unless it exists, labelled as the stack's.
  public func createCurrentSecret() throws(CtlError) -> String {
    let secret = try currentSecretName()
    guard !secrets().contains(secret) else { return secret }
    let result = try ProcessRunner.capture([
      "docker", "secret", "create", "--label", "\(SwarmEngine.namespaceLabel)=\(name)", secret, project.hashFile,
    ])
    guard result.succeeded else { throw CtlError(.composeFailed, "docker secret create failed: \(result.lastLine)") }
    return secret
  }

  /// Swarm secrets are immutable: a restart moves the services onto the current secret one at a time
  /// (stop-first: one GPU, one copy), or restarts them when they mount it already; a failed health
  /// check rolls the service back, and then the error says so. Old secrets no service mounts are
  /// removed afterwards.
  @discardableResult
  func restart(timeout: Double, console: Console) throws(CtlError) -> [String] {
    let services = services()
    guard !services.isEmpty else { return [] }
    let secret = try createCurrentSecret()
    for service in services {
      var args = [
        "docker", "service", "update", "--quiet", "--update-order", "stop-first", "--update-failure-action",
        "rollback", "--rollback-order", "stop-first",
      ]
      if let old = mountedSecret(service), old != secret {
        console.say("\(service): moving from secret \(old) to \(secret)")
        args += [
          "--secret-rm", old, "--secret-add",
          "source=\(secret),target=\(SwarmEngine.secretKey),uid=\(settings.uid),gid=\(settings.gid),mode=0400",
        ]
      } else {
        args.append("--force")
      }
      let result = try ProcessRunner.capture(args + [self.service(service)])
      let state =
        lines(
          try? ProcessRunner.capture([
            "docker", "service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
            self.service(service),
          ])
        ).first ?? ""
      if state.hasPrefix("rollback") || !result.succeeded {
        throw CtlError(
          .rolledBack,
          "\(service): the update failed (\(state.isEmpty ? result.lastLine : state)); swarm rolled it back onto "
            + "its previous secret, which still works; see `comfyctl logs \(service)`")
      }
    }
    try waitUntilHealthy(services, timeout: timeout, console: console)
    removeUnusedSecrets(keeping: secret)
    return services
  }

  /// Secrets of the stack other than `keeping` that no service mounts (after a rotation or a redeploy).
  public func removeUnusedSecrets(keeping: String) {
    let mounted = Set(services().flatMap { mountedSecrets($0) })
    let stale = secrets().filter { $0 != keeping && !mounted.contains($0) }
    if !stale.isEmpty { _ = try? ProcessRunner.capture(["docker", "secret", "rm"] + stale) }
  }

  /// `docker stack rm`, then waits until its containers are gone (swarm removes them in the
  /// background, and a network or volume in use cannot go), then removes what stack rm leaves: the
  /// network if it lingers, comfyctl's secrets, and with `volumes` the stack's volumes.
  func remove(volumes: Bool, console: Console) throws(CtlError) {
    let timeout = 120.0
    let result = try ProcessRunner.capture(["docker", "stack", "rm", name])
    guard result.succeeded else { throw CtlError(.composeFailed, "docker stack rm failed: \(result.lastLine)") }
    let filter = "label=\(SwarmEngine.namespaceLabel)=\(name)"
    let started = Instant.now()
    while !lines(try? ProcessRunner.capture(["docker", "ps", "-aq", "--filter", filter])).isEmpty
      || !lines(try? ProcessRunner.capture(["docker", "network", "ls", "-q", "--filter", filter])).isEmpty
    {
      guard started.secondsSince < timeout else {
        throw CtlError(.containerFailed, "the stack's containers or network are still there after \(Int(timeout)) s")
      }
      usleep(300_000)
    }
    let leftover = secrets()
    if !leftover.isEmpty { _ = try? ProcessRunner.capture(["docker", "secret", "rm"] + leftover) }
    let names = volumes ? lines(try? ProcessRunner.capture(["docker", "volume", "ls", "-q", "--filter", filter])) : []
    if !names.isEmpty {
      let removed = try ProcessRunner.capture(["docker", "volume", "rm"] + names)
      guard removed.succeeded else {
        throw CtlError(.composeFailed, "docker volume rm failed: \(removed.lastLine)")
      }
    }
    console.say(
      "swarm stack \(name) removed (services, secrets, network)" + (volumes ? ", volumes included" : " (volumes kept)"))
  }
}

/// The engine's swarm membership, for `up --swarm` and the tests.
public enum SwarmNode {
  /// "active" and a manager: stacks can be deployed here.
  public static func isManager() -> Bool {
    let text = lines(
      try? ProcessRunner.capture([
        "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}",
      ])
    ).first
    return text == "active true"
  }

  public static func state() -> String {
    lines(try? ProcessRunner.capture(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"])).first ?? "unknown"
  }
}

/// A command's stdout as its non-empty lines; nothing when it did not run or failed.
func lines(_ result: ProcessOutput?) -> [String] {
  guard let result, result.succeeded else { return [] }
  return result.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
