// Issue 13, Docker Swarm: the compose file becomes a stack file swarm accepts (each difference
// handled), and on the real engine a whole cycle: a single-node swarm on loopback (only when the
// engine is in none, and left again only when this test made it), the stand-in stack deployed and
// healthy, validated, a rotation the container cannot read rolled back, a rotation with restart
// validated with the new token, and `down --deep` leaving no service, secret, network or volume.
// The shared engine runs other suites' Compose projects meanwhile: the swarm lives only this long.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct SwarmTests {
  /// What `docker compose config --format json` prints for the GPU main service and a profile's one.
  static func composeConfig() -> [String: Any] {
    let json = """
      {"name": "proj", "networks": {"default": {"name": "proj_default", "ipam": {}}},
       "secrets": {"comfyui_password_hash": {"name": "proj_comfyui_password_hash", "file": "/p/.secrets/hash"}},
       "services": {
        "comfyui": {"image": "img", "restart": "unless-stopped", "stop_grace_period": "12s", "cap_drop": ["ALL"],
          "security_opt": ["no-new-privileges:true"], "command": null, "networks": {"default": null},
          "environment": {"COMFYUI_AUTH": "login"},
          "healthcheck": {"test": ["CMD", "comfy-init", "health"], "interval": "2s", "start_period": "10m0s"},
          "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8188, "published": "8188", "protocol": "tcp"}],
          "secrets": [{"source": "comfyui_password_hash", "target": "/run/secrets/comfyui_password_hash"}],
          "volumes": [{"type": "volume", "source": "models", "target": "/opt/comfyui/ComfyUI/models", "volume": {}}],
          "deploy": {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", "device_ids": ["0,1"], "capabilities": ["gpu"]}]}}}},
        "comfyui-flux": {"image": "img", "profiles": ["flux"], "restart": "no",
          "ports": [{"target": 8188, "published": "8190"}],
          "volumes": [{"type": "volume", "source": "models-flux", "target": "/m"}]}}}
      """
    return (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
  }

  @Test func theComposeConfigBecomesAStackFileWithEachDifferenceHandled() throws {
    #expect(!SwarmTests.composeConfig().isEmpty)
    let (file, notes) = SwarmEngine.translate(
      SwarmTests.composeConfig(), secretNames: ["comfyui_password_hash": "proj_s_v"], uid: 1000, gid: 0)
    #expect(file["version"] as? String == "3.9")
    #expect(Set(file.keys) == ["version", "services", "volumes", "secrets"], "name, networks: Compose's only")
    let services = try #require(file["services"] as? [String: [String: Any]])
    let main = try #require(services["comfyui"])
    for key in ["restart", "profiles", "security_opt", "command", "networks"] {
      #expect(main[key] == nil && services["comfyui-flux"]?[key] == nil, "\(key) reached the stack file")
    }
    let deploy = try #require(main["deploy"] as? [String: Any])
    #expect((deploy["restart_policy"] as? [String: String]) == ["condition": "any"])
    #expect(
      (services["comfyui-flux"]?["deploy"] as? [String: Any])?["restart_policy"] as? [String: String]
        == ["condition": "none"])
    let update = try #require(deploy["update_config"] as? [String: Any])
    #expect(update["order"] as? String == "stop-first" && update["failure_action"] as? String == "rollback")
    // Two device ids: two NVIDIA-GPU generic resources; no GPU asked, none reserved.
    let reservations = (deploy["resources"] as? [String: Any])?["reservations"] as? [String: Any]
    let generic = reservations?["generic_resources"] as? [[String: [String: Any]]]
    #expect(generic?.first?["discrete_resource_spec"]?["kind"] as? String == "NVIDIA-GPU")
    #expect(generic?.first?["discrete_resource_spec"]?["value"] as? Int == 2)
    #expect((services["comfyui-flux"]?["deploy"] as? [String: Any])?["resources"] == nil)
    #expect(notes.contains { $0.hasPrefix("GPU: comfyui reserve NVIDIA-GPU") }, "\(notes)")
    #expect(notes.contains { $0.contains("no-new-privileges") }, "\(notes)")
    // Host-mode ports without the host IP swarm cannot bind; the published port a number.
    let port = try #require((main["ports"] as? [[String: Any]])?.first)
    #expect(port["mode"] as? String == "host" && port["published"] as? Int == 8188 && port["host_ip"] == nil)
    // The secret under its versioned name, owned by the container's user, readable by it alone.
    let secret = try #require((main["secrets"] as? [[String: Any]])?.first)
    #expect(secret["uid"] as? String == "1000" && secret["gid"] as? String == "0" && secret["mode"] as? Int == 0o400)
    #expect(secret["target"] as? String == "comfyui_password_hash")
    let top = (file["secrets"] as? [String: [String: Any]])?["comfyui_password_hash"]
    #expect(top?["name"] as? String == "proj_s_v" && top?["file"] as? String == "/p/.secrets/hash")
    #expect(Set((file["volumes"] as? [String: Any] ?? [:]).keys) == ["models", "models-flux"])
    #expect((main["volumes"] as? [[String: Any]])?.first?["volume"] == nil)
  }

  @Test func theSecretNameFollowsTheContentSoARotationGetsANewOne() throws {
    let (dir, project) = makeProject("swarm-name")
    let stack = try SwarmEngine(project: project, settings: Settings(project: project))
    let name = stack.secretName(forContent: "$2b$12$a")
    #expect(name.hasPrefix("comfyctl-swarm-name-\(getpid())_comfyui_password_hash_") && name.count <= 64)
    #expect(stack.secretName(forContent: "$2b$12$a") == name)
    #expect(stack.secretName(forContent: "$2b$12$b") != name)
    withExtendedLifetime(dir) {}
  }

  @Test(.needs(.docker), .timeLimit(.minutes(12))) func aSwarmEngineDeploysValidatesRotatesAndLeavesNothing() throws {
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let before = SwarmNode.state()
    try #require(
      before == "inactive" || SwarmNode.isManager(), "the engine is a swarm worker (\(before)); run this on a manager")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, names) = try EndToEndDockerTests().makeStandinProject(label: "swarm")
    let ctl = { (args: [String]) throws -> RunResult in
      let result = try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
      print(
        "swarm: comfyctl \(args.joined(separator: " ")) -> \(result.status) in \(String(format: "%.1f s", result.seconds))"
      )
      return result
    }
    var madeSwarm = false
    let stackFilter = "label=\(SwarmEngine.namespaceLabel)=\(names.project)"
    let leftovers = { () -> [String] in
      var found: [String] = []
      for kind in [["service", "ls"], ["secret", "ls"], ["network", "ls"], ["volume", "ls"], ["ps", "-a"]] {
        let listed = try? runTool(["/usr/bin/env", "docker"] + kind + ["-q", "--filter", stackFilter])
        found += (listed?.stdout.split(separator: "\n").map { "\(kind[0]) \($0)" }) ?? []
      }
      let volumes = try? runTool(["/usr/bin/env", "docker", "volume", "ls", "-q"])
      found +=
        volumes?.stdout.split(separator: "\n").filter { $0.hasPrefix(names.project + "_") }.map {
          "volume \($0)"
        } ?? []
      return found
    }
    defer {
      if !leftovers().isEmpty { _ = try? ctl(["down", "--deep", "--models", "--yes"]) }
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", names.image])
      // Only a swarm this test made is left; anybody else's stays.
      if madeSwarm { _ = try? runTool(["/usr/bin/env", "docker", "swarm", "leave", "--force"]) }
    }

    let build = try ctl(["build", "--standin", "--base-image", EndToEndDockerTests.baseImage])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")

    // Outside a swarm, without --init-swarm and without a terminal: one line, its own code, nothing made.
    if before == "inactive" {
      let refused = try ctl(["up", "--swarm", "--cpu"])
      #expect(refused.status == CtlExitCode.notASwarmManager.rawValue, "\(refused.all)")
      #expect(refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("--init-swarm"))
      #expect(SwarmNode.state() == "inactive")
    }

    let up = try ctl([
      "up", "--swarm", "--cpu", "--init-swarm", "--advertise-addr", "127.0.0.1", "--wait-timeout", "240",
    ])
    madeSwarm = up.stdout.contains("swarm: this engine is now a single-node swarm manager")
    #expect(madeSwarm == (before == "inactive"), "\(up.all)")
    try #require(up.status == 0, "up --swarm failed: \(up.all)")
    print("swarm: deploy-to-healthy \(String(format: "%.1f s", up.seconds)) (comfyctl up --swarm, image present)")
    #expect(up.stdout.contains("swarm: \(SwarmEngine.portRule)"), "\(up.all)")
    #expect(up.stdout.contains("comfyui: http://127.0.0.1:\(names.port)"), "\(up.all)")

    // The secret is swarm's file, owned by the container's user, mode 0400; nothing in the environment.
    let stack = try SwarmEngine(project: Project(root: dir.path), settings: Settings(project: Project(root: dir.path)))
    let container = try #require(try stack.containers().first { $0.service == "comfyui" })
    let mode = try runTool([
      "/usr/bin/env", "docker", "exec", container.id, "stat", "-c", "%u %a", "/run/secrets/comfyui_password_hash",
    ])
    #expect(mode.stdout == "1000 400\n", "\(mode.all)")
    let first = try SecretsStore(project: Project(root: dir.path)).load()
    let inspect = try runTool(["/usr/bin/env", "docker", "service", "inspect", stack.service("comfyui")])
    #expect(!inspect.all.contains(first.hash) && !inspect.all.contains(first.password))
    #expect(stack.secrets() == [try stack.currentSecretName()])

    let validate = try ctl(["validate", "--json"])
    #expect(validate.status == 0, "\(validate.all)")
    let rows = (try? JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any])?["rows"]
    #expect(
      (rows as? [[String: Any]])?.count == 20
        && (rows as? [[String: Any]])?.allSatisfy { $0["passed"] as? Bool == true } == true, "\(validate.all)")
    // validate expects a GPU from a task whose service reserves one (a task has no device request):
    // a service that reserves NVIDIA-GPU (never scheduled here: no node has one) against this --cpu one.
    #expect(!Docker.serviceReservesGPU(stack.service("comfyui")) && !Docker.requestsGPU(container.id))
    let gpuService = "\(names.project)-gpu-probe"
    let pending = try runTool([
      "/usr/bin/env", "docker", "service", "create", "--detach", "--quiet", "--name", gpuService,
      "--generic-resource", "\(SwarmEngine.gpuResourceKind)=1", names.image,
    ])
    #expect(pending.status == 0, "\(pending.all)")
    #expect(Docker.serviceReservesGPU(gpuService))
    _ = try runTool(["/usr/bin/env", "docker", "service", "rm", gpuService])
    let status = try ctl(["status"])
    #expect(status.stdout.contains("swarm stack \(names.project)"), "\(status.all)")
    #expect(status.stdout.contains("comfyui: running healthy  http://127.0.0.1:\(names.port)\n"), "\(status.all)")
    let logs = try ctl(["logs", "--tail", "100"])
    #expect(logs.status == 0 && logs.all.contains("token=<redacted>") && !logs.all.contains(first.hash), "\(logs.all)")

    // A rotation onto a secret the container cannot read (owned by another uid): the new task fails,
    // swarm rolls back onto the old secret, comfyctl says so, and the old server still answers.
    let plainEnv = dir.read(".env")
    dir.write(".env", plainEnv + "COMFYUI_UID=4242\n")
    let broken = try ctl(["secrets", "rotate", "--restart", "--wait-timeout", "120"])
    #expect(broken.status == CtlExitCode.rolledBack.rawValue, "\(broken.all)")
    #expect(broken.stderr.contains("rolled it back"), "\(broken.all)")
    dir.write(".env", plainEnv)

    // The real rotation: a new versioned secret, the service moved onto it, healthy, the old one gone.
    let rotate = try ctl(["secrets", "rotate", "--restart", "--wait-timeout", "240"])
    #expect(rotate.status == 0, "\(rotate.all)")
    print("swarm: rotate-to-healthy \(String(format: "%.1f s", rotate.seconds)) (comfyctl secrets rotate --restart)")
    let second = try SecretsStore(project: Project(root: dir.path)).load()
    #expect(second.hash != first.hash)
    #expect(stack.secrets() == [try stack.currentSecretName()], "old secrets left: \(stack.secrets())")
    let revalidate = try ctl(["validate"])
    #expect(revalidate.status == 0, "\(revalidate.all)")
    let check = try ctl(["secrets", "check"])
    #expect(check.status == 0, "\(check.all)")

    // A model host's token: a swarm secret like the hash (an empty one was left out), mounted as a file
    // the container's user alone reads; the redeploy moves the service onto it; never in the service's spec.
    let token = "hf_swarmToken0123456789"
    let stored = try runTool([bin, "secrets", "hf-token", "--project-dir", dir.path], stdin: token + "\n")
    #expect(stored.status == 0, "\(stored.all)")
    let redeploy = try ctl(["up", "--swarm", "--cpu", "--wait-timeout", "240"])
    #expect(redeploy.status == 0, "\(redeploy.all)")
    #expect(stack.secrets().contains { $0.hasPrefix(names.project + "_hf_token_") }, "\(stack.secrets())")
    #expect(!stack.secrets().contains { $0.hasPrefix(names.project + "_civitai_token_") }, "\(stack.secrets())")
    let withToken = try #require(try stack.containers().first { $0.service == "comfyui" })
    let tokenFile = try runTool([
      "/usr/bin/env", "docker", "exec", withToken.id, "stat", "-c", "%u %a", "/run/secrets/hf_token",
    ])
    #expect(tokenFile.stdout == "1000 400\n", "\(tokenFile.all)")
    let tokenInspect = try runTool(["/usr/bin/env", "docker", "service", "inspect", stack.service("comfyui")])
    #expect(!tokenInspect.all.contains(token) && tokenInspect.stdout.contains("HF_TOKEN_FILE=/run/secrets/hf_token"))
    #expect(!tokenInspect.stdout.contains("CIVITAI_TOKEN_FILE"), "an empty token's variable is left out")

    let down = try ctl(["down", "--deep", "--models", "--yes"])
    #expect(down.status == 0, "\(down.all)")
    #expect(leftovers().isEmpty, "left behind: \(leftovers())")
    if madeSwarm {
      let leave = try runTool(["/usr/bin/env", "docker", "swarm", "leave", "--force"])
      #expect(leave.status == 0, "\(leave.all)")
      madeSwarm = false
    }
    #expect(SwarmNode.state() == before, "the swarm was not left as found")
  }
}
