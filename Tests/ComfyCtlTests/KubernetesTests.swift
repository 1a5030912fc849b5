// Issue 13's Kubernetes manifests: every overlay renders with `kubectl kustomize`, passes
// kubernetes-validate (strict, Kubernetes 1.32) and checkov (every skip carries its reason), keeps the
// pod hardened; and the pod simulation runs the rendered `cpu` overlay's pod in Docker exactly as its
// spec says (user and groups, read-only root, emptyDirs as tmpfs, claims as volumes, the Secret as
// kubelet lays it out, capabilities, env, probes on their schedule, grace period), so manifest and
// test cannot drift. The tools come from scripts/setup's venv (.cache/kubernetes-tools).
import Foundation
import Testing

@testable import ComfyCtlKit

enum KubernetesTools {
  static let overlays = ["gpu", "cpu", "qwen-image-edit", "flux", "sd35"]
  static let kubernetesVersion = "1.32.0"
  static let venv = CtlPaths.root + "/.cache/kubernetes-tools"
  static let ready = FileManager.default.isExecutableFile(atPath: venv + "/bin/checkov")

  /// kubectl from the machine, or the one scripts/setup put into the venv where the machine has none.
  static var kubectl: String {
    for path in ["/usr/bin/kubectl", "/usr/local/bin/kubectl", venv + "/bin/kubectl"]
    where FileManager.default.isExecutableFile(atPath: path) {
      return path
    }
    return "kubectl"
  }

  /// `kubectl kustomize DIR`: the YAML an apply -k would send.
  static func render(_ dir: String) throws -> String {
    let result = try runTool([kubectl, "kustomize", dir], timeout: 60)
    try #require(result.status == 0, "kubectl kustomize \(dir): \(result.all)")
    return result.stdout
  }

  /// The documents of a YAML stream as JSON objects (PyYAML comes with checkov into the venv;
  /// kubectl itself converts only with a cluster to ask).
  static func documents(_ yaml: String) throws -> [[String: Any]] {
    let script = "import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)"
    let result = try runTool([venv + "/bin/python", "-c", script], stdin: yaml, timeout: 60)
    try #require(result.status == 0, "yaml to json: \(result.all)")
    let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]
    return try #require(parsed)
  }

  static func overlayDir(_ name: String) -> String { CtlPaths.root + "/kubernetes/overlays/" + name }
}

/// A rendered StatefulSet's (or Job's) pod, read through the keys the simulation and the checks need.
struct RenderedPod {
  let statefulSet: [String: Any]
  let spec: [String: Any]
  let container: [String: Any]

  init(_ documents: [[String: Any]], kind: String = "StatefulSet") throws {
    let found = documents.first { $0["kind"] as? String == kind }
    statefulSet = try #require(found, "no \(kind) rendered")
    let template = (statefulSet["spec"] as? [String: Any])?["template"] as? [String: Any]
    spec = try #require(template?["spec"] as? [String: Any])
    let containers = try #require(spec["containers"] as? [[String: Any]])
    try #require(containers.count == 1)
    container = containers[0]
  }

  var podSecurity: [String: Any] { spec["securityContext"] as? [String: Any] ?? [:] }
  var containerSecurity: [String: Any] { container["securityContext"] as? [String: Any] ?? [:] }
  var env: [(String, String)] {
    (container["env"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["value"] as? String ?? "") }
  }
  func envValue(_ name: String) -> String? { env.first { $0.0 == name }?.1 }
  var volumes: [[String: Any]] { spec["volumes"] as? [[String: Any]] ?? [] }
  var mounts: [[String: Any]] { container["volumeMounts"] as? [[String: Any]] ?? [] }
  var claimTemplates: [String] {
    ((statefulSet["spec"] as? [String: Any])?["volumeClaimTemplates"] as? [[String: Any]] ?? []).compactMap {
      ($0["metadata"] as? [String: Any])?["name"] as? String
    }
  }
  var resources: [String: [String: Any]] { container["resources"] as? [String: [String: Any]] ?? [:] }
  func probe(_ name: String) -> [String: Any]? { container[name] as? [String: Any] }
  var grace: Int { spec["terminationGracePeriodSeconds"] as? Int ?? 30 }
  /// The Secrets the pod mounts as files: plain secret volumes and a projected volume's sources.
  var secretSources: [[String: Any]] {
    volumes.flatMap { volume -> [[String: Any]] in
      if let secret = volume["secret"] as? [String: Any] {
        return [
          ["name": secret["secretName"] ?? "", "items": secret["items"] ?? [], "optional": secret["optional"] ?? false]
        ]
      }
      let projected = volume["projected"] as? [String: Any]
      return (projected?["sources"] as? [[String: Any]] ?? []).compactMap { $0["secret"] as? [String: Any] }
    }
  }
}

/// The kubelet's part, played by Docker: `docker run` arguments for a rendered pod, exactly as its spec
/// says (user and groups, read-only root, emptyDirs as tmpfs of their size limit, claims as Docker
/// volumes named PREFIX-CLAIM, Secrets laid out as the kubelet does, capabilities, env, limits, grace).
struct PodSimulation {
  let pod: RenderedPod
  /// The Secret documents `comfyctl secrets k8s` printed, by name.
  let secrets: [String: [String: Any]]
  let prefix: String
  let secretRoot = CtlTempDir("k8s-sim-secret")
  /// The Docker volumes the claims became (for the test's cleanup).
  private(set) var volumes: [String] = []

  init(pod: RenderedPod, secretDocuments: [[String: Any]], prefix: String) {
    self.pod = pod
    self.prefix = prefix
    var byName: [String: [String: Any]] = [:]
    for document in secretDocuments {
      if let name = (document["metadata"] as? [String: Any])?["name"] as? String { byName[name] = document }
    }
    secrets = byName
  }

  /// Everything before the image: `docker run` options.
  mutating func options() throws -> [String] {
    let podSecurity = pod.podSecurity
    let uid = try #require(podSecurity["runAsUser"] as? Int)
    let gid = podSecurity["runAsGroup"] as? Int ?? 0
    let fsGroup = podSecurity["fsGroup"] as? Int
    var args = ["--user", "\(uid):\(gid)"]
    if let fsGroup { args += ["--group-add", String(fsGroup)] }
    if pod.containerSecurity["readOnlyRootFilesystem"] as? Bool == true { args.append("--read-only") }
    if pod.containerSecurity["allowPrivilegeEscalation"] as? Bool == false {
      args += ["--security-opt", "no-new-privileges"]
    }
    for cap in (pod.containerSecurity["capabilities"] as? [String: Any])?["drop"] as? [String] ?? [] {
      args += ["--cap-drop", cap]
    }
    // seccomp RuntimeDefault is Docker's default profile: nothing to add.
    #expect((podSecurity["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
    if let memory = pod.resources["limits"]?["memory"] as? String { args += ["--memory", dockerSize(memory)] }
    if let cpu = pod.resources["limits"]?["cpu"] as? String, let cores = Double(cpu) {
      // Docker refuses more CPUs than the machine has; the kubelet's quota would not bind here either.
      args += ["--cpus", String(min(cores, Double(ProcessInfo.processInfo.activeProcessorCount)))]
    }
    args += ["--stop-timeout", String(pod.grace)]
    for mount in pod.mounts {
      let name = try #require(mount["name"] as? String)
      let path = try #require(mount["mountPath"] as? String)
      let readOnly = mount["readOnly"] as? Bool == true
      if let volume = pod.volumes.first(where: { $0["name"] as? String == name }) {
        if let emptyDir = volume["emptyDir"] as? [String: Any] {
          var spec = "type=tmpfs,destination=\(path)"
          if let limit = emptyDir["sizeLimit"] as? String { spec += ",tmpfs-size=\(dockerSize(limit))" }
          args += ["--mount", spec]
        } else if let claim = volume["persistentVolumeClaim"] as? [String: Any] {
          let volumeName = prefix + "-" + (try #require(claim["claimName"] as? String))
          volumes.append(volumeName)
          args += ["-v", volumeName + ":" + path + (readOnly ? ":ro" : "")]
        } else if let secret = volume["secret"] as? [String: Any] {
          let source: [String: Any] = [
            "name": secret["secretName"] ?? "", "items": secret["items"] ?? [], "optional": secret["optional"] ?? false,
          ]
          let mode = mode_t(secret["defaultMode"] as? Int ?? 0o644)
          args += ["-v", try layOut(name, sources: [source], mode: mode, fsGroup: fsGroup) + ":" + path + ":ro"]
        } else if let projected = volume["projected"] as? [String: Any] {
          let sources = (projected["sources"] as? [[String: Any]] ?? []).compactMap { $0["secret"] as? [String: Any] }
          #expect(sources.count == (projected["sources"] as? [Any])?.count, "projected: only Secrets are simulated")
          let mode = mode_t(projected["defaultMode"] as? Int ?? 0o644)
          args += ["-v", try layOut(name, sources: sources, mode: mode, fsGroup: fsGroup) + ":" + path + ":ro"]
        } else {
          Issue.record("volume \(name): a kind the simulation does not know: \(volume)")
        }
      } else {
        let claim = try #require(pod.claimTemplates.first { $0 == name }, "mount \(name) has no volume")
        let volumeName = prefix + "-" + claim
        volumes.append(volumeName)
        args += ["-v", volumeName + ":" + path]
      }
    }
    for (name, value) in pod.env { args += ["-e", name + "=" + value] }
    return args
  }

  /// The Secrets' files as the kubelet lays them out: each item's file is a link through ..data to a
  /// timestamped folder, owned by root with the fsGroup, in the volume's mode. A missing optional
  /// Secret adds nothing; a missing required one fails (the kubelet would not start the pod).
  private func layOut(_ name: String, sources: [[String: Any]], mode: mode_t, fsGroup: Int?) throws -> String {
    let folder = secretRoot.file(name)
    let stamp = "..2025_01_01_00_00_00.000000000"
    try FileManager.default.createDirectory(atPath: folder + "/" + stamp, withIntermediateDirectories: true)
    for source in sources {
      let secretName = try #require(source["name"] as? String)
      guard let document = secrets[secretName] else {
        try #require(source["optional"] as? Bool == true, "the pod needs the Secret \(secretName)")
        continue
      }
      let data = try #require(document["data"] as? [String: String])
      for item in source["items"] as? [[String: Any]] ?? [] {
        let key = try #require(item["key"] as? String)
        let file = try #require(item["path"] as? String)
        let encoded = try #require(data[key], "the Secret \(secretName) has no \(key)")
        let bytes = try #require(Data(base64Encoded: encoded))
        let target = folder + "/" + stamp + "/" + file
        try bytes.write(to: URL(fileURLWithPath: target))
        #expect(chown(target, 0, gid_t(fsGroup ?? 0)) == 0 && chmod(target, mode) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder + "/" + file, withDestinationPath: "..data/" + file)
      }
    }
    try FileManager.default.createSymbolicLink(atPath: folder + "/..data", withDestinationPath: stamp)
    return folder
  }
}

/// A probe's schedule and command, with the kubelet's defaults for what the manifest leaves out.
struct ProbeSchedule {
  let command: [String]
  let initialDelay: Int
  let period: Int
  let timeout: Int
  let failureThreshold: Int

  init(_ probe: [String: Any]) throws {
    let exec = try #require(probe["exec"] as? [String: Any], "only exec probes are simulated")
    command = try #require(exec["command"] as? [String])
    initialDelay = probe["initialDelaySeconds"] as? Int ?? 0
    period = probe["periodSeconds"] as? Int ?? 10
    timeout = probe["timeoutSeconds"] as? Int ?? 1
    failureThreshold = probe["failureThreshold"] as? Int ?? 3
  }
}

@Suite(.serialized) struct KubernetesTests {
  @Test func everyOverlayRendersAndPassesKubernetesValidateStrict() throws {
    try #require(KubernetesTools.ready, "the kubernetes tools are missing; run scripts/setup")
    let dir = CtlTempDir("k8s-validate")
    var files: [String] = []
    for overlay in KubernetesTools.overlays {
      files.append(dir.file(overlay + ".yaml"))
      dir.write(overlay + ".yaml", try KubernetesTools.render(KubernetesTools.overlayDir(overlay)))
    }
    // The Secret `comfyctl secrets k8s` prints is validated with them.
    let credential = try SecretsStore.makeCredential(username: "admin", password: "a long enough password here")
    dir.write("secret.yaml", try KubernetesSecret.manifest(credential, name: "comfyui-password-hash", namespace: "x"))
    files.append(dir.file("secret.yaml"))
    let result = try runTool(
      [KubernetesTools.venv + "/bin/kubernetes-validate", "--strict", "-k", KubernetesTools.kubernetesVersion]
        + files, timeout: 300)
    #expect(result.status == 0, "\(result.all)")
    // A document with a field Kubernetes does not know must fail, or the check proves nothing.
    dir.write("bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n")
    let bad = try runTool(
      [
        KubernetesTools.venv + "/bin/kubernetes-validate", "--strict", "-k", KubernetesTools.kubernetesVersion,
        dir.file("bad.yaml"),
      ], timeout: 300)
    #expect(bad.status != 0, "\(bad.all)")
  }

  /// checkov on the rendered overlays: no failed check, and every skipped one says why.
  @Test func checkovPassesEveryOverlayWithEachSkipJustified() throws {
    try #require(KubernetesTools.ready, "the kubernetes tools are missing; run scripts/setup")
    let dir = CtlTempDir("k8s-checkov")
    for overlay in KubernetesTools.overlays {
      dir.write("rendered/" + overlay + ".yaml", try KubernetesTools.render(KubernetesTools.overlayDir(overlay)))
    }
    let result = try runTool(
      [
        KubernetesTools.venv + "/bin/checkov", "-d", dir.file("rendered"), "--framework", "kubernetes", "--output",
        "json", "--quiet", "--compact",
      ],
      environment: ["HOME": dir.path, "LOG_LEVEL": "ERROR"], timeout: 600)
    let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let report = try #require(parsed, "checkov printed no JSON report: \(result.all.suffix(3000))")
    let summary = try #require(report["summary"] as? [String: Any])
    let results = try #require(report["results"] as? [String: Any])
    let failed = results["failed_checks"] as? [[String: Any]] ?? []
    let skipped = results["skipped_checks"] as? [[String: Any]] ?? []
    print(
      "k8s: checkov passed \(summary["passed"] ?? "?"), failed \(summary["failed"] ?? "?"), "
        + "skipped \(summary["skipped"] ?? "?")")
    #expect(failed.isEmpty, "\(failed.map { "\($0["check_id"] ?? "") \($0["resource"] ?? "")" })")
    #expect(result.status == 0, "\(result.all.suffix(3000))")
    for check in skipped {
      let reason = (check["check_result"] as? [String: Any])?["suppress_comment"] as? String ?? ""
      #expect(reason.count > 20, "\(check["check_id"] ?? "") is skipped without a reason")
    }
    #expect((summary["passed"] as? Int ?? 0) > 50)
  }

  @Test func everyOverlayKeepsThePodHardenedAndTheCredentialAFile() throws {
    try #require(KubernetesTools.ready, "the kubernetes tools are missing; run scripts/setup")
    for overlay in KubernetesTools.overlays {
      let documents = try KubernetesTools.documents(try KubernetesTools.render(KubernetesTools.overlayDir(overlay)))
      let pod = try RenderedPod(documents)
      #expect(pod.podSecurity["runAsNonRoot"] as? Bool == true, "\(overlay)")
      #expect((pod.podSecurity["runAsUser"] as? Int ?? 0) >= 10000, "\(overlay)")
      #expect(pod.podSecurity["runAsGroup"] as? Int == 0 && pod.podSecurity["fsGroup"] as? Int == 0, "\(overlay)")
      #expect((pod.podSecurity["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
      #expect(pod.containerSecurity["readOnlyRootFilesystem"] as? Bool == true, "\(overlay)")
      #expect(pod.containerSecurity["allowPrivilegeEscalation"] as? Bool == false, "\(overlay)")
      #expect((pod.containerSecurity["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"])
      #expect(pod.spec["automountServiceAccountToken"] as? Bool == false, "\(overlay)")
      for kind in ["requests", "limits"] {
        #expect(pod.resources[kind]?["cpu"] != nil && pod.resources[kind]?["memory"] != nil, "\(overlay) \(kind)")
      }
      // The credential and the model hosts' tokens: files from the Secrets `comfyctl secrets k8s` prints,
      // no variable holds them.
      let sources = pod.secretSources
      #expect(sources.first?["name"] as? String == KubernetesSecret.defaultName, "\(overlay)")
      let items = sources.first?["items"] as? [[String: Any]] ?? []
      #expect(items.first?["key"] as? String == KubernetesSecret.key, "\(overlay)")
      try Self.expectTokenFiles(pod, sources: sources, overlay: overlay)
      let envs = pod.container["env"] as? [[String: Any]] ?? []
      #expect(envs.allSatisfy { $0["valueFrom"] == nil } && pod.container["envFrom"] == nil, "\(overlay)")
      #expect(pod.envValue("COMFYUI_PASSWORD_HASH_FILE") == "/run/secrets/" + KubernetesSecret.key)
      // Probes: a first provisioning of 30 GB fits in the startup probe; the grace period outlasts
      // comfy-init's own stop timeout.
      let startup = try ProbeSchedule(try #require(pod.probe("startupProbe")))
      #expect(startup.period * startup.failureThreshold >= 7200, "\(overlay)")
      let liveness = try ProbeSchedule(try #require(pod.probe("livenessProbe")))
      #expect(liveness.period * liveness.failureThreshold >= 300 && liveness.timeout >= 20, "\(overlay)")
      #expect(pod.probe("readinessProbe") != nil)
      #expect(pod.grace > Int(pod.envValue("COMFYUI_STOP_TIMEOUT") ?? "8")!, "\(overlay)")
      // Models on the one shared claim, the rest per instance.
      let models = pod.volumes.first { $0["name"] as? String == "models" }
      #expect((models?["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String == "comfyui-models")
      #expect(Set(pod.claimTemplates) == ["input", "output", "user", "custom-nodes"], "\(overlay)")
      // GPU or not.
      let gpu = pod.resources["limits"]?["nvidia.com/gpu"]
      let selector = pod.spec["nodeSelector"] as? [String: String] ?? [:]
      let tolerations = pod.spec["tolerations"] as? [[String: Any]] ?? []
      if overlay == "cpu" {
        #expect(gpu == nil && selector.isEmpty && pod.envValue("COMFYUI_ARGS") == "--cpu")
      } else {
        #expect("\(gpu ?? "")" == "1", "\(overlay)")
        #expect(selector["nvidia.com/gpu.product"] != nil, "\(overlay)")
        #expect(tolerations.contains { $0["key"] as? String == "nvidia.com/gpu" }, "\(overlay)")
      }
      // A family's overlay has its provisioning Job: hardened the same way, the same manifest (its
      // family's, in the image) and the same claim as the instance; the main instance has none.
      try Self.expectProvisioningJob(documents, pod: pod, overlay: overlay)
      // Only the ingress controller's namespace reaches the port.
      let policy = documents.first {
        $0["kind"] as? String == "NetworkPolicy"
          && !((($0["metadata"] as? [String: Any])?["name"] as? String)?.hasPrefix("comfyui-models") ?? false)
      }
      let rules = (policy?["spec"] as? [String: Any])?["ingress"] as? [[String: Any]] ?? []
      #expect(rules.count == 1, "\(overlay)")
      let from = rules.first?["from"] as? [[String: Any]] ?? []
      #expect(from.count == 1 && from[0]["namespaceSelector"] != nil && from[0]["podSelector"] == nil)
      // The shared claim is ReadWriteMany wherever an overlay brings it.
      for claim in documents where claim["kind"] as? String == "PersistentVolumeClaim" {
        #expect((claim["spec"] as? [String: Any])?["accessModes"] as? [String] == ["ReadWriteMany"])
      }
    }
  }

  static let familyManifests = [
    "qwen-image-edit": "qwen-image-edit.txt", "flux": "flux-dev.txt", "sd35": "sd35-large.txt",
  ]

  /// The tokens Secret is optional (public models need none) and each token a file its variable names.
  static func expectTokenFiles(_ pod: RenderedPod, sources: [[String: Any]], overlay: String) throws {
    let tokens = try #require(sources.first { $0["name"] as? String == KubernetesSecret.tokensName }, "\(overlay)")
    #expect(tokens["optional"] as? Bool == true, "\(overlay)")
    let keys = (tokens["items"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
    #expect(keys == ModelToken.allCases.map(\.key), "\(overlay)")
    for token in ModelToken.allCases {
      #expect(pod.envValue(token.fileVariable) == token.containerPath, "\(overlay) \(token)")
    }
  }

  static func expectProvisioningJob(_ documents: [[String: Any]], pod: RenderedPod, overlay: String) throws {
    let jobs = documents.filter { $0["kind"] as? String == "Job" }
    guard let manifest = familyManifests[overlay] else {
      #expect(jobs.isEmpty, "\(overlay)")
      #expect(pod.envValue("COMFYUI_MODELS_MANIFEST") == "", "\(overlay)")
      return
    }
    #expect(jobs.count == 1, "\(overlay)")
    let job = try RenderedPod(documents, kind: "Job")
    #expect((job.statefulSet["metadata"] as? [String: Any])?["name"] as? String == "comfyui-models-" + overlay)
    #expect(
      (job.statefulSet["metadata"] as? [String: Any])?["namespace"] as? String == KubernetesSecret.defaultNamespace)
    #expect(job.container["args"] as? [String] == ["provision"] && job.container["command"] == nil, "\(overlay)")
    #expect(job.spec["restartPolicy"] as? String == "OnFailure")
    let wanted = "/etc/comfy-init/manifests/" + manifest
    #expect(job.envValue("COMFYUI_MODELS_MANIFEST") == wanted && pod.envValue("COMFYUI_MODELS_MANIFEST") == wanted)
    // The StatefulSet's hardening, to the field.
    for key in ["runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup"] {
      #expect("\(job.podSecurity[key] ?? "-")" == "\(pod.podSecurity[key] ?? "+")", "\(overlay) \(key)")
    }
    for key in ["readOnlyRootFilesystem", "allowPrivilegeEscalation", "privileged", "runAsNonRoot"] {
      #expect("\(job.containerSecurity[key] ?? "-")" == "\(pod.containerSecurity[key] ?? "+")", "\(overlay) \(key)")
    }
    #expect((job.containerSecurity["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"])
    #expect(job.spec["automountServiceAccountToken"] as? Bool == false)
    #expect(job.spec["serviceAccountName"] as? String == pod.spec["serviceAccountName"] as? String)
    for kind in ["requests", "limits"] {
      #expect(job.resources[kind]?["cpu"] != nil && job.resources[kind]?["memory"] != nil, "\(overlay) \(kind)")
    }
    #expect(job.resources["limits"]?["nvidia.com/gpu"] == nil, "the Job holds no GPU")
    // Only emptyDirs for what it writes besides the claim; the tokens as files, no hash needed.
    let mountPaths = Set(job.mounts.compactMap { $0["mountPath"] as? String })
    #expect(mountPaths == ["/run/comfy-init", "/tmp", "/run/secrets", "/opt/comfyui/ComfyUI/models"], "\(mountPaths)")
    let claim = job.volumes.first { $0["persistentVolumeClaim"] != nil }?["persistentVolumeClaim"] as? [String: Any]
    #expect(claim?["claimName"] as? String == "comfyui-models")
    try expectTokenFiles(job, sources: job.secretSources, overlay: overlay + " job")
    #expect(!job.secretSources.contains { $0["name"] as? String == KubernetesSecret.defaultName })
    // The instance's Service never selects the Job's pod.
    let labels = ((job.statefulSet["spec"] as? [String: Any])?["template"] as? [String: Any]).flatMap {
      ($0["metadata"] as? [String: Any])?["labels"] as? [String: String]
    }
    #expect(labels?["app.kubernetes.io/name"] == "comfyui-models", "\(labels ?? [:])")
  }

  /// The rendered `cpu` overlay's pod, run in Docker as the kubelet would run it; the time to ready
  /// is printed (probes on the manifest's schedule, so it counts in whole periods).
  @Test(.needs(.docker), .timeLimit(.minutes(15)))
  func thePodOfTheCpuOverlayRunsInDockerAsItsSpecSays() throws {
    try #require(KubernetesTools.ready, "the kubernetes tools are missing; run scripts/setup")
    let e2e = EndToEndDockerTests()
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, names) = try e2e.makeStandinProject(label: "k8spod")
    let ctl = { (args: [String]) throws -> RunResult in
      try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
    }
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args) }
    let prefix = "comfyctl-k8spod-\(getpid())"
    let container = prefix + "-pod"
    var volumes: [String] = []
    defer {
      _ = try? docker(["rm", "-f", container])
      if !volumes.isEmpty { _ = try? docker(["volume", "rm", "-f"] + volumes) }
      _ = try? docker(["image", "rm", "-f", names.image])
    }
    #expect(try ctl(["secrets", "init"]).status == 0)
    let build = try ctl(["build", "--base-image", EndToEndDockerTests.baseImage, "--standin"])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")

    // The overlay, with its image pointed at the one just built (what a user's overlay does too).
    let overlay = CtlTempDir("k8s-sim-overlay")
    let colon = try #require(names.image.lastIndex(of: ":"))
    overlay.write(
      "kustomization.yaml",
      """
      apiVersion: kustomize.config.k8s.io/v1beta1
      kind: Kustomization
      resources:
        - \(relativeToRoot(overlay.path) + KubernetesTools.overlayDir("cpu"))
      images:
        - name: comfy-init/comfyui
          newName: \(names.image[..<colon])
          newTag: \(names.image[names.image.index(after: colon)...])

      """)
    let pod = try RenderedPod(try KubernetesTools.documents(try KubernetesTools.render(overlay.path)))
    #expect(pod.container["image"] as? String == names.image)

    // The Secrets as `comfyctl secrets k8s` prints them, laid out as the kubelet does.
    let printed = try ctl(["secrets", "k8s"])
    try #require(printed.status == 0, "\(printed.all)")
    let secretDocuments = try KubernetesTools.documents(printed.stdout)
    #expect(secretDocuments.count == 2, "the hash's Secret and the tokens'")
    var simulation = PodSimulation(pod: pod, secretDocuments: secretDocuments, prefix: prefix)
    var args = ["run", "-d", "--name", container] + (try simulation.options())
    volumes = simulation.volumes
    let port = e2e.freeTCPPort()
    let ports = pod.container["ports"] as? [[String: Any]] ?? []
    let containerPort = try #require(ports.first?["containerPort"] as? Int)
    args += ["-p", "127.0.0.1:\(port):\(containerPort)"]
    args.append(names.image)
    if let command = pod.container["command"] as? [String] { Issue.record("command \(command) is not simulated") }

    let started = Date()
    let run = try docker(args)
    try #require(run.status == 0, "\(run.all)")

    /// Runs a probe's command the kubelet's way: `docker exec` with its timeout.
    func probe(_ schedule: ProbeSchedule) throws -> Bool {
      let result = try runTool(
        ["/usr/bin/env", "docker", "exec", container] + schedule.command, timeout: TimeInterval(schedule.timeout))
      return result.status == 0
    }
    /// Probes on the schedule until one passes; false once failureThreshold probes failed in a row,
    /// the container stopped, or `budget` seconds passed (the test's own limit, far below 2 h).
    func passes(_ schedule: ProbeSchedule, budget: Double) throws -> Bool {
      usleep(useconds_t(schedule.initialDelay) * 1_000_000)
      var failures = 0
      let deadline = Date().addingTimeInterval(budget)
      while failures < schedule.failureThreshold && Date() < deadline {
        let at = Date()
        if try probe(schedule) { return true }
        failures += 1
        let running = try docker(["inspect", "-f", "{{.State.Running}}", container])
        if running.stdout.hasPrefix("false") { return false }
        let left = Double(schedule.period) - Date().timeIntervalSince(at)
        if left > 0 { usleep(useconds_t(left * 1_000_000)) }
      }
      return false
    }
    let startup = try ProbeSchedule(try #require(pod.probe("startupProbe")))
    let readiness = try ProbeSchedule(try #require(pod.probe("readinessProbe")))
    let liveness = try ProbeSchedule(try #require(pod.probe("livenessProbe")))
    let startedUp = try passes(startup, budget: 240)
    let log = { (try? docker(["logs", container]).all.suffix(3000)).map(String.init) ?? "" }
    try #require(startedUp, "the startup probe never passed: \(log())")
    let ready = try passes(readiness, budget: 60)
    try #require(ready, "the readiness probe failed: \(log())")
    print("k8s: the cpu overlay's pod was ready \(Console.seconds(Date().timeIntervalSince(started))) after docker run")
    #expect(try probe(liveness), "the liveness probe failed on a ready pod: \(log())")

    // Auth and generation, with the project's own secrets, as a client through the Service would.
    let validate = try ctl(["validate", "--url", "http://127.0.0.1:\(port)"])
    #expect(validate.status == 0, "\(validate.all)")
    // The secret was never in the container's environment or command line.
    let inspect = try docker(["inspect", container])
    let credential = try SecretsStore(project: Project(root: dir.path)).load()
    #expect(!inspect.stdout.contains(credential.hash) && !inspect.stdout.contains(credential.password))

    // Stopped at the end of the grace period's clock: exit 0, in time.
    let stopStarted = Date()
    let stopped = try docker(["stop", "-t", String(pod.grace), container])
    let stopSeconds = Date().timeIntervalSince(stopStarted)
    #expect(stopped.status == 0, "\(stopped.all)")
    let code = try docker(["inspect", "-f", "{{.State.ExitCode}}", container]).stdout
    #expect(code.hasPrefix("0\n"), "exit \(code) after \(stopSeconds) s: \(log())")
    #expect(stopSeconds < Double(pod.grace), "the stop took \(stopSeconds) s")
  }
}

extension KubernetesTests {
  /// A family's provisioning Job, rendered from the flux overlay and run in Docker exactly as its pod
  /// spec says (user, read-only root, emptyDirs, the claim, the tokens Secret as files, env, args); then
  /// the instance's container, as its spec says, runs the same models phase on the same claim and finds
  /// everything in place. The manifest names a URL nothing answers: only a file found and verified lets
  /// either exit 0, and without the file the Job fails (the control that shows the test can fail).
  /// The family's own manifest (hf:// sources) needs the Hub, which is not reachable here: the test's
  /// overlay points both at a manifest on the claim, through the overlay's one patch.
  @Test(.needs(.docker), .timeLimit(.minutes(15)))
  func theProvisioningJobRunsInDockerAsItsSpecSaysAndTheInstanceFindsItsFiles() throws {
    try #require(KubernetesTools.ready, "the kubernetes tools are missing; run scripts/setup")
    let e2e = EndToEndDockerTests()
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, names) = try e2e.makeStandinProject(label: "k8sjob")
    let ctl = { (args: [String], stdin: String?) throws -> RunResult in
      try runTool([bin] + args + ["--project-dir", dir.path], stdin: stdin, timeout: 600)
    }
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args, timeout: 300)
    }
    let prefix = "comfyctl-k8sjob-\(getpid())"
    var containers: [String] = []
    var volumes: [String] = []
    defer {
      if !containers.isEmpty { _ = try? docker(["rm", "-f"] + containers) }
      if !volumes.isEmpty { _ = try? docker(["volume", "rm", "-f"] + volumes) }
      _ = try? docker(["image", "rm", "-f", names.image])
    }
    #expect(try ctl(["secrets", "init"], nil).status == 0)
    let token = "hf_k8sJobToken0123456789"
    #expect(try ctl(["secrets", "hf-token"], token + "\n").status == 0)
    let build = try ctl(["build", "--base-image", EndToEndDockerTests.baseImage, "--standin"], nil)
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")

    // The image carries every family manifest of manifests/ where the overlays look for them.
    let inRepo = try FileManager.default.contentsOfDirectory(atPath: CtlPaths.root + "/manifests").filter {
      $0.hasSuffix(".txt")
    }
    let inImage = try docker(["run", "--rm", "--entrypoint", "ls", names.image, "/etc/comfy-init/manifests"])
    #expect(Set(inImage.stdout.split(separator: "\n").map(String.init)) == Set(inRepo), "\(inImage.all)")
    let flux = try RenderedPod(
      try KubernetesTools.documents(try KubernetesTools.render(KubernetesTools.overlayDir("flux"))), kind: "Job")
    #expect(flux.envValue("COMFYUI_MODELS_MANIFEST") == "/etc/comfy-init/manifests/flux-dev.txt")

    let overlay = CtlTempDir("k8s-job-overlay")
    let colon = try #require(names.image.lastIndex(of: ":"))
    let manifest = "/opt/comfyui/ComfyUI/models/k8s-test-manifest.txt"
    overlay.write(
      "kustomization.yaml",
      """
      apiVersion: kustomize.config.k8s.io/v1beta1
      kind: Kustomization
      resources:
        - \(relativeToRoot(overlay.path) + KubernetesTools.overlayDir("flux"))
      images:
        - name: comfy-init/comfyui
          newName: \(names.image[..<colon])
          newTag: \(names.image[names.image.index(after: colon)...])
      patches:
        - target:
            kind: StatefulSet|Job
          patch: |-
            apiVersion: apps/v1
            kind: any
            metadata:
              name: any
            spec:
              template:
                spec:
                  containers:
                    - name: comfyui
                      env:
                        - name: COMFYUI_MODELS_MANIFEST
                          value: \(manifest)

      """)
    let documents = try KubernetesTools.documents(try KubernetesTools.render(overlay.path))
    let job = try RenderedPod(documents, kind: "Job")
    let instance = try RenderedPod(documents)
    #expect(job.container["image"] as? String == names.image && job.envValue("COMFYUI_MODELS_MANIFEST") == manifest)
    let printed = try ctl(["secrets", "k8s"], nil)
    try #require(printed.status == 0, "\(printed.all)")
    let secretDocuments = try KubernetesTools.documents(printed.stdout)

    // The claim as a previous download left it: a model, and a manifest naming it at a URL nothing
    // answers; owned by group 0 and group-writable, as fsGroup 0 makes a claim.
    let claim = prefix + "-comfyui-models"
    volumes.append(claim)
    let fill = try docker([
      "run", "--rm", "--user", "0:0", "--entrypoint", "sh", "-v", claim + ":/opt/comfyui/ComfyUI/models", names.image,
      "-c",
      """
      set -e; cd /opt/comfyui/ComfyUI/models; mkdir -p checkpoints
      head -c 3000000 /dev/urandom >checkpoints/k8s-test.safetensors
      sum=$(sha256sum checkpoints/k8s-test.safetensors | cut -d' ' -f1)
      echo "http://127.0.0.1:9/k8s-test.safetensors checkpoints/k8s-test.safetensors $sum" >k8s-test-manifest.txt
      chgrp -R 0 . && chmod -R g+rwX .
      """,
    ])
    try #require(fill.status == 0, "\(fill.all)")

    /// Runs `pod`'s container to its end, as its spec says, with `args` (the spec's own by default).
    func runToEnd(_ pod: RenderedPod, name: String, args: [String]? = nil) throws -> (RunResult, logs: String) {
      var simulation = PodSimulation(pod: pod, secretDocuments: secretDocuments, prefix: prefix)
      let options = try simulation.options()
      volumes += simulation.volumes
      containers.append(name)
      if let command = pod.container["command"] as? [String] { Issue.record("command \(command) is not simulated") }
      let result = try docker(
        ["run", "--name", name] + options + [names.image] + (args ?? pod.container["args"] as? [String] ?? []))
      return (result, try docker(["logs", name]).all)
    }
    let (done, jobLog) = try runToEnd(job, name: prefix + "-job")
    #expect(done.status == 0, "the Job failed: \(jobLog.suffix(3000))")
    #expect(
      jobLog.contains("models: all 1 in place, nothing to download") || jobLog.contains("nothing to download"),
      "\(jobLog.suffix(2000))")
    let inspect = try docker(["inspect", prefix + "-job"])
    #expect(!inspect.stdout.contains(token) && !jobLog.contains(token))
    #expect(inspect.stdout.contains("HF_TOKEN_FILE=/run/secrets/hf_token"))

    // The instance's container, as its spec says, on the same claim: its models phase finds the files.
    let (found, instanceLog) = try runToEnd(instance, name: prefix + "-instance", args: ["provision"])
    #expect(found.status == 0, "the instance's models phase failed: \(instanceLog.suffix(3000))")
    #expect(instanceLog.contains("nothing to download"), "\(instanceLog.suffix(2000))")

    // The control: without the file, the Job has to download, nothing answers, and it fails.
    let remove = try docker([
      "run", "--rm", "--user", "0:0", "--entrypoint", "rm", "-v", claim + ":/m", names.image,
      "/m/checkpoints/k8s-test.safetensors",
    ])
    #expect(remove.status == 0, "\(remove.all)")
    let (failed, failedLog) = try runToEnd(job, name: prefix + "-job-again")
    #expect(failed.status != 0, "the Job passed without its file: \(failedLog.suffix(2000))")
  }
}

/// The `../` that lead from `dir` to `/` (kustomize takes no absolute path to a base).
func relativeToRoot(_ dir: String) -> String {
  String(repeating: "../", count: dir.split(separator: "/").count)
}

/// A Kubernetes quantity (64Mi, 4Gi, 16G) in the bytes Docker's size options take.
func dockerSize(_ quantity: String) -> String {
  let units: [(String, Int)] = [
    ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("k", 1000),
    ("M", 1_000_000), ("G", 1_000_000_000),
  ]
  for (suffix, factor) in units where quantity.hasSuffix(suffix) {
    if let number = Int(quantity.dropLast(suffix.count)) { return String(number * factor) }
  }
  return quantity
}
