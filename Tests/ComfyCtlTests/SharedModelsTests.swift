// Issue 20: one models volume every instance shares, external to Compose and Swarm so that neither
// `docker compose down --volumes` nor `comfyctl down --deep` can remove it (only `--models` does); each
// family's instance provisions its manifest baked into the image; an old per-family volume that holds
// models gets one line saying how to move its files. Compose's own interpolation (`docker compose
// config`) is compared with ModelsVolumes, comfyctl's one owner of the names.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct SharedModelsTests {
  static let manifests = [
    "comfyui-qwen-image-edit": "qwen-image-edit.txt", "comfyui-flux": "flux-dev.txt", "comfyui-sd35": "sd35-large.txt",
  ]

  /// `docker compose config` with every profile: services by name, and the top-level volumes.
  static func config(_ dir: CtlTempDir, _ project: Project, environment: [String: String] = [:]) throws -> (
    services: [String: [String: Any]], volumes: [String: [String: Any]]
  ) {
    let compose = try ComposeEngine(project: project, settings: Settings(project: project), profiles: ["*"])
    let result = try runTool(compose.baseArguments + ["config", "--format", "json"], environment: environment)
    try #require(result.status == 0, "\(result.all)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    return (
      try #require(json["services"] as? [String: [String: Any]]),
      try #require(json["volumes"] as? [String: [String: Any]])
    )
  }

  static func modelsVolume(
    of service: String, in config: (services: [String: [String: Any]], volumes: [String: [String: Any]])
  ) -> (name: String?, external: Bool) {
    let mounts = config.services[service]?["volumes"] as? [[String: Any]] ?? []
    let key = mounts.first { $0["target"] as? String == "/opt/comfyui/ComfyUI/models" }?["source"] as? String ?? ""
    return (config.volumes[key]?["name"] as? String, config.volumes[key]?["external"] as? Bool == true)
  }

  @Test(.needs(.docker)) func everyInstanceMountsTheOneExternalVolumeComfyctlNames() throws {
    let (dir, project) = makeProject("models-names")
    let name = try ComposeEngine(project: project, settings: Settings(project: project)).name
    var config = try Self.config(dir, project)
    let volumes = ModelsVolumes(settings: Settings(project: project), projectName: name)
    #expect(volumes.shared == name + "_models")
    for instance in Instance.all {
      let mounted = Self.modelsVolume(of: instance.service, in: config)
      #expect(mounted.name == name + "_models" && mounted.external, "\(instance.service): \(mounted)")
      #expect(volumes.name(of: instance) == mounted.name)
    }
    // The other volumes stay per instance and Compose's own (down --volumes removes them).
    #expect(
      config.volumes["input-flux"]?["external"] == nil
        && config.volumes["input-flux"]?["name"] as? String == name + "_input-flux")

    // COMFYUI_MODELS_VOLUME renames the shared one; COMFYUI_FLUX_MODELS_VOLUME gives flux its own (an
    // old per-family volume, kept); comfyctl reads the same .env Compose does.
    dir.write(
      ".env", dir.read(".env") + "COMFYUI_MODELS_VOLUME=studio-models\nCOMFYUI_FLUX_MODELS_VOLUME=\(name)_models-flux\n"
    )
    config = try Self.config(dir, project)
    let renamed = ModelsVolumes(settings: Settings(project: project), projectName: name)
    for instance in Instance.all {
      let mounted = Self.modelsVolume(of: instance.service, in: config)
      #expect(mounted.name == renamed.name(of: instance) && mounted.external, "\(instance.service)")
      #expect(mounted.name == (instance.profile == "flux" ? name + "_models-flux" : "studio-models"))
    }
    #expect(renamed.names(of: Instance.all) == ["studio-models", name + "_models-flux"])
    #expect(renamed.legacyName(of: Instance.all[0]) == nil)
    #expect(Instance.all.compactMap(renamed.legacyName(of:)) == Instance.profiles.map { name + "_models-" + $0 })
  }

  /// Each profile provisions its family's manifest from the image; the main instance none unless asked;
  /// COMFYUI_<NAME>_MODELS_MANIFEST wins; the tokens are files in every instance.
  @Test(.needs(.docker)) func eachProfileProvisionsItsFamilysManifest() throws {
    let (dir, project) = makeProject("models-manifests")
    var config = try Self.config(dir, project)
    #expect((config.services["comfyui"]?["environment"] as? [String: Any])?["COMFYUI_MODELS_MANIFEST"] as? String == "")
    for (service, file) in Self.manifests {
      let environment = try #require(config.services[service]?["environment"] as? [String: Any])
      #expect(environment["COMFYUI_MODELS_MANIFEST"] as? String == "/etc/comfy-init/manifests/" + file, "\(service)")
      for token in ModelToken.allCases {
        #expect(environment[token.fileVariable] as? String == token.containerPath, "\(service)")
      }
      let secrets = (config.services[service]?["secrets"] as? [[String: Any]] ?? []).compactMap {
        $0["source"] as? String
      }
      #expect(Set(secrets) == Set(["comfyui_password_hash"] + ModelToken.allCases.map(\.key)), "\(service)")
    }
    dir.write(".env", dir.read(".env") + "COMFYUI_SD35_MODELS_MANIFEST=/etc/comfy-init/manifests/sd35-medium.txt\n")
    config = try Self.config(dir, project)
    #expect(
      (config.services["comfyui-sd35"]?["environment"] as? [String: Any])?["COMFYUI_MODELS_MANIFEST"] as? String
        == "/etc/comfy-init/manifests/sd35-medium.txt")
    // The CPU override keeps them (it only changes COMFYUI_ARGS and the GPU).
    let cpu = try ComposeEngine(project: project, settings: Settings(project: project), cpu: true, profiles: ["*"])
    let cpuConfig = try runTool(cpu.baseArguments + ["config", "--format", "json"])
    #expect(cpuConfig.status == 0 && cpuConfig.stdout.contains("/etc/comfy-init/manifests/flux-dev.txt"))
  }

  /// The manifests the profiles and overlays name are in manifests/, which the Dockerfile bakes in.
  @Test func theNamedManifestsExistAndTheImageCopiesThem() throws {
    for file in Set(Self.manifests.values).union(["sd35-medium.txt"]) {
      #expect(FileManager.default.fileExists(atPath: CtlPaths.root + "/manifests/" + file), "manifests/\(file)")
    }
    let dockerfile = try String(contentsOfFile: CtlPaths.root + "/Dockerfile", encoding: .utf8)
    #expect(dockerfile.contains("COPY manifests/ /etc/comfy-init/manifests/"))
    let ignore = try String(contentsOfFile: CtlPaths.root + "/.dockerignore", encoding: .utf8)
    #expect(ignore.split(separator: "\n").contains("!manifests"))
  }

  /// Swarm: the external volume keeps its name (stack deploy neither creates nor prefixes it); a token
  /// secret with content is mounted like the hash, an empty one (swarm refuses empty secrets) is left
  /// out with the variable that points at it.
  @Test func theStackFileKeepsTheExternalVolumeAndLeavesEmptyTokensOut() throws {
    var config = SwarmTests.composeConfig()
    config["volumes"] = [
      "models": ["name": "proj_models", "external": true], "models-flux": ["name": "proj_models", "external": true],
    ]
    config["secrets"] = [
      "comfyui_password_hash": ["file": "/p/.secrets/hash"], "hf_token": ["file": "/p/.secrets/hf_token"],
      "civitai_token": ["file": "/p/.secrets/civitai_token"],
    ]
    var services = config["services"] as? [String: [String: Any]] ?? [:]
    services["comfyui"]?["secrets"] = ["comfyui_password_hash", "hf_token", "civitai_token"].map { ["source": $0] }
    services["comfyui"]?["environment"] = [
      "COMFYUI_AUTH": "login", "HF_TOKEN_FILE": "/run/secrets/hf_token",
      "CIVITAI_TOKEN_FILE": "/run/secrets/civitai_token",
    ]
    config["services"] = services
    let (file, _) = SwarmEngine.translate(
      config, secretNames: ["comfyui_password_hash": "proj_h_1", "hf_token": "proj_hf_token_2"], uid: 1000, gid: 0)
    let volumes = try #require(file["volumes"] as? [String: [String: Any]])
    #expect(volumes["models"]?["name"] as? String == "proj_models" && volumes["models"]?["external"] as? Bool == true)
    #expect(volumes["models-flux"]?["name"] as? String == "proj_models")
    let main = try #require((file["services"] as? [String: [String: Any]])?["comfyui"])
    let mounted = (main["secrets"] as? [[String: Any]] ?? []).compactMap { $0["source"] as? String }
    #expect(mounted == ["comfyui_password_hash", "hf_token"])
    let environment = main["environment"] as? [String: Any] ?? [:]
    #expect(environment["HF_TOKEN_FILE"] as? String == "/run/secrets/hf_token")
    #expect(environment["CIVITAI_TOKEN_FILE"] == nil && environment["COMFYUI_AUTH"] as? String == "login")
    let top = try #require(file["secrets"] as? [String: [String: Any]])
    #expect(Set(top.keys) == ["comfyui_password_hash", "hf_token"])
    #expect(top["hf_token"]?["name"] as? String == "proj_hf_token_2")
  }

  /// On the real engine: comfyctl creates the volume once (an existing one is used as it is); an old
  /// per-family volume holding models gets its one line, one with only the image's empty folders none;
  /// `down --deep` removes Compose's volumes and keeps the models; `--deep --models` removes them too.
  @Test(.needs(.docker), .timeLimit(.minutes(5))) func downDeepKeepsTheModelsUnlessAskedAndOldVolumesAreNamed()
    throws
  {
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, project) = makeProject("models-down")
    dir.write(".env", dir.read(".env") + "COMFYUI_IMAGE=\(EndToEndDockerTests.baseImage)\n")
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    let settings = Settings(project: project)
    let name = try ComposeEngine(project: project, settings: settings).name
    let volumes = ModelsVolumes(settings: settings, projectName: name)
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args) }
    let flux = try #require(Instance.all.first { $0.profile == "flux" })
    let sd35 = try #require(Instance.all.first { $0.profile == "sd35" })
    let (oldFlux, oldSD35) = (try #require(volumes.legacyName(of: flux)), try #require(volumes.legacyName(of: sd35)))
    defer {
      _ = try? runTool([bin, "down", "--deep", "--models", "--yes", "--project-dir", dir.path])
      _ = try? docker(["volume", "rm", "-f", volumes.shared, oldFlux, oldSD35])
    }

    try volumes.create(for: Instance.all, console: Console(isTerminal: false))
    let label = try docker([
      "volume", "inspect", "--format", "{{index .Labels \"\(ModelsVolumes.label)\"}}", volumes.shared,
    ])
    #expect(label.stdout == name + "\n", "\(label.all)")
    try volumes.create(for: Instance.all, console: Console(isTerminal: false))  // again: nothing to do
    #expect(try docker(["volume", "ls", "-q", "--filter", "name=^\(volumes.shared)$"]).stdout == volumes.shared + "\n")

    // Old per-family volumes: flux's holds 2 MB of "models", sd35's only an empty folder tree.
    for volume in [oldFlux, oldSD35] { #expect(try docker(["volume", "create", volume]).status == 0) }
    let fill = try docker([
      "run", "--rm", "-v", oldFlux + ":/v", "-v", oldSD35 + ":/w", "--entrypoint", "sh", EndToEndDockerTests.baseImage,
      "-c", "mkdir -p /v/checkpoints /w/checkpoints && head -c 2000000 /dev/zero >/v/checkpoints/m.safetensors",
    ])
    #expect(fill.status == 0, "\(fill.all)")
    let hints = volumes.describeLegacy(for: Instance.all, image: EndToEndDockerTests.baseImage)
    #expect(hints.count == 1, "\(hints)")
    #expect(
      hints.first?.hasPrefix(
        "models: the old volume \(oldFlux) (2 MB) is no longer mounted; comfyui-flux uses \(volumes.shared).") == true)
    #expect(hints.first?.contains("or keep it: COMFYUI_FLUX_MODELS_VOLUME=\(oldFlux) in .env") == true)
    // Kept on purpose: the instance mounts it, so there is nothing to say.
    dir.write(".env", dir.read(".env") + "COMFYUI_FLUX_MODELS_VOLUME=\(oldFlux)\n")
    #expect(
      ModelsVolumes(settings: Settings(project: project), projectName: name).describeLegacy(
        for: Instance.all, image: EndToEndDockerTests.baseImage
      ).isEmpty)
    dir.write(".env", dir.read(".env").replacingOccurrences(of: "COMFYUI_FLUX_MODELS_VOLUME=\(oldFlux)\n", with: ""))

    // Compose's volumes come from a created (not started) project: `down --deep` removes them, not the models.
    let compose = try ComposeEngine(project: project, settings: settings, cpu: true, profiles: [])
    let created = try runTool(compose.baseArguments + ["create"], timeout: 120)
    try #require(created.status == 0, "\(created.all)")
    let composeVolumes = {
      try docker(["volume", "ls", "-q", "--filter", "label=com.docker.compose.project=\(name)"]).stdout
    }
    #expect(try composeVolumes().split(separator: "\n").count == 4, "input, output, user, custom_nodes")
    let deep = try runTool([bin, "down", "--deep", "--yes", "--project-dir", dir.path], timeout: 120)
    #expect(deep.status == 0, "\(deep.all)")
    #expect(deep.stdout.contains("models: kept \(volumes.shared)"), "\(deep.all)")
    #expect(try composeVolumes().isEmpty)
    #expect(Docker.volumeExists(volumes.shared) && Docker.volumeExists(oldFlux))

    let refused = try runTool([bin, "down", "--models", "--project-dir", dir.path])
    #expect(refused.status == CtlExitCode.usage.rawValue, "\(refused.all)")
    let all = try runTool([bin, "down", "--deep", "--models", "--yes", "--project-dir", dir.path], timeout: 120)
    #expect(all.status == 0, "\(all.all)")
    #expect(all.stdout.contains("models: removed \(volumes.shared), \(oldFlux), \(oldSD35) (--models)"), "\(all.all)")
    for volume in [volumes.shared, oldFlux, oldSD35] { #expect(!Docker.volumeExists(volume), "\(volume)") }
  }
}
