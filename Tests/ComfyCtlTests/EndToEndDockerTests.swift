// The whole cycle of issue 3 on a real Docker engine, with the stand-in ComfyUI baked into a test
// image: secrets init, build, up, healthy, validate, `docker stop`, up again without reinstalling,
// rotate with restart, validate with the new token, down --deep leaving nothing behind. The stand-in
// crashes without --cpu (STANDIN_NO_GPU=1, as CUDA torch on a host without a driver), so each `up`
// proves that `--cpu` or COMFYUI_CPU=1 reached the server. Along the way: the uid-mismatch refusal,
// `logs -f`, `status`, `restart`, `--skip-models`, and `down` without --deep keeping the volumes.
// Skipped (with the reason) only where the Docker engine cannot be started; with CI=true it must run.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct EndToEndDockerTests {
  static let baseImage = "comfy-init-base:bookworm"

  @Test(.needs(.docker), .timeLimit(.minutes(15))) func wholeCycleOnTheStandinComfyUI() throws {
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build or swift build")
    try #require(
      FileManager.default.isExecutableFile(atPath: CtlPaths.comfyInit),
      "\(CtlPaths.comfyInit) is missing; run scripts/build (the image bakes in the static comfy-init)")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")

    let (dir, names) = try makeStandinProject()
    let ctl = { (args: [String]) throws -> RunResult in
      let result = try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
      print("e2e: comfyctl \(args.joined(separator: " ")) -> \(result.status) in \(seconds(result.seconds))")
      return result
    }
    let noGPUImage = names.image + "-nogpu"
    defer {
      _ = try? ctl(["down", "--deep", "--models", "--yes"])
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", noGPUImage, names.image])
    }

    // 1. Secrets: one source, derived files.
    let initRun = try ctl(["secrets", "init"])
    #expect(initRun.status == 0, "\(initRun.all)")
    let first = try SecretsStore(project: Project(root: dir.path)).load()

    // 2. The image, from dist/comfy-init, on the debootstrapped base, from local folders: the stand-in
    // repos as any clone would be, and a wheel folder with a ballast wheel nothing requires, to find
    // out whether the folder stays in the image. (--standin is this with defaults: the other tests.)
    let sources = CtlTempDir("e2e-sources")
    let made = try runTool([
      "/bin/bash", CtlPaths.root + "/Tests/Fixtures/make-standin-repos.sh", CtlPaths.root + "/Tests/Fixtures",
      sources.file("repos"),
    ])
    try #require(made.status == 0, "\(made.all)")
    let ballast = "comfyinit_ballast-1.0-py3-none-any.whl"
    dir.write(".cache/wheels/" + ballast, String(repeating: "ballast\n", count: 512 * 1024))
    let build = try ctl([
      "build", "--base-image", EndToEndDockerTests.baseImage, "--comfyui-repo", sources.file("repos/comfyui.git-src"),
      "--comfyui-ref", "v0.8.0-standin", "--login-repo", sources.file("repos/login-src"), "--login-ref",
      "v1.0-standin", "--wheels", dir.file(".cache/wheels"),
    ])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")
    // The venv, the checkouts and the git mirrors remain (a start may fetch from them); the wheel folder
    // is nowhere, and no layer copied the build context.
    let leftovers = try runTool([
      "/usr/bin/env", "docker", "run", "--rm", "--entrypoint", "/bin/sh", names.image, "-c",
      "ls -A /opt /opt/comfyui-build; find / -xdev -name 'comfyinit_ballast*' 2>/dev/null; true",
    ])
    #expect(
      leftovers.status == 0 && leftovers.stdout == "/opt:\ncomfyui\ncomfyui-build\n\n/opt/comfyui-build:\nrepos\n",
      "\(leftovers.all)")
    let history = try runTool([
      "/usr/bin/env", "docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", names.image,
    ])
    #expect(history.status == 0 && !history.stdout.isEmpty)
    let copies = history.stdout.split(separator: "\n").filter {
      $0.contains("COPY") && $0.contains("comfyui-build") && !$0.hasSuffix("/opt/comfyui-build/repos ")
        && !$0.hasSuffix("/opt/comfyui-build/repos")
    }
    #expect(copies.isEmpty, "a layer of the image copied the build context: \(copies)")
    // Nor does the host keep the bake stage (the classic builder leaves it as an untagged image).
    let bake = try runTool([
      "/usr/bin/env", "docker", "images", "--quiet", "--filter", "label=comfy-init.bake-for=\(names.image)",
    ])
    #expect(bake.status == 0 && bake.stdout.isEmpty, "the bake stage is left: \(bake.all)")
    // The stack runs an image whose stand-in ComfyUI dies at start without --cpu, like PyPI's CUDA
    // torch on a host with no NVIDIA driver: a healthy stack proves the CPU override reached the server.
    let context = CtlTempDir("nogpu-image")
    context.write("Dockerfile", "FROM \(names.image)\nENV STANDIN_NO_GPU=1\n")
    let derived = try runTool(["/usr/bin/env", "docker", "build", "-q", "-t", noGPUImage, context.path], timeout: 300)
    try #require(derived.status == 0, "\(derived.all)")
    let dotEnv = dir.read(".env")
    dir.write(
      ".env", dotEnv.replacingOccurrences(of: "COMFYUI_IMAGE='\(names.image)'", with: "COMFYUI_IMAGE='\(noGPUImage)'"))

    // 3. Prerequisites fail early with one line and their own exit code: no GPU runtime here, a port
    // that another program holds, and a secret file the image's user could not read (COMFYUI_UID says
    // 4242, so comfyctl gives the file to 4242, but the image was built for 1000). Then up and healthy.
    let noGPU = try ctl(["up"])
    #expect(noGPU.status == CtlExitCode.gpuRuntimeMissing.rawValue, "\(noGPU.all)")
    let holder = try listen(on: names.port)
    let busy = try ctl(["up", "--cpu"])
    close(holder)
    #expect(busy.status == CtlExitCode.portInUse.rawValue, "\(busy.all)")
    #expect(busy.stderr.split(separator: "\n").count == 1 && busy.stderr.contains("COMFYUI_HOST_PORT"))
    dir.write(".env", dir.read(".env") + "COMFYUI_UID=4242\n")
    let mismatch = try ctl(["up", "--cpu"])
    #expect(mismatch.status == CtlExitCode.secretsInvalid.rawValue, "\(mismatch.all)")
    #expect(
      mismatch.stderr == "comfyctl: the image \(noGPUImage) runs as uid 1000 but .secrets/comfyui_password_hash "
        + "belongs to uid 4242 (mode 0600); run `comfyctl build` to build the image for COMFYUI_UID=4242, or set "
        + "COMFYUI_UID=1000 in .env\n", "\(mismatch.all)")
    #expect(try projectObjects(["ps", "-a"], project: names.project).isEmpty, "up started something after refusing")
    // The second fix the message names (the first, a build for 4242, takes a minute).
    dir.write(".env", dir.read(".env").replacingOccurrences(of: "COMFYUI_UID=4242\n", with: "COMFYUI_UID=1000\n"))
    let up = try ctl(["up", "--cpu", "--wait-timeout", "180"])
    try #require(up.status == 0, "up failed: \(up.all)")
    #expect(up.stdout.contains("healthy"))
    #expect(up.stdout.contains("http://127.0.0.1:\(names.port)"))

    // 4. The whole auth matrix.
    let validate = try ctl(["validate", "--json"])
    #expect(validate.status == 0, "\(validate.all)")
    let report = try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Any]
    let rows = report?["rows"] as? [[String: Any]] ?? []
    #expect(rows.count == 20)  // the matrix, ComfyUI-Login's holes (AuthContract), a guest login
    for row in rows { #expect(row["passed"] as? Bool == true, "row failed: \(row)") }

    // 5. No secret in docker inspect, the container's environment, or comfyctl's own output.
    let container = try containerID(of: "comfyui", project: names.project)
    let inspect = try runTool(["/usr/bin/env", "docker", "inspect", container, names.image])
    let environment = try runTool(["/usr/bin/env", "docker", "exec", container, "env"])
    for secret in [first.password, first.hash] {
      #expect(!inspect.all.contains(secret), "a secret is in docker inspect")
      #expect(!environment.all.contains(secret), "a secret is in the container's environment")
      for output in [initRun, build, up, validate] {
        #expect(!output.all.contains(secret), "a secret in comfyctl output")
      }
    }
    // ComfyUI-Login logs its token; comfy-init cuts it out before it reaches the container log at all.
    let logs = try ctl(["logs", "--tail", "500"])
    #expect(!logs.all.contains(first.hash) && logs.all.contains("token=<redacted>"))
    let rawLogs = try runTool(["/usr/bin/env", "docker", "logs", container])
    #expect(!rawLogs.all.contains(first.hash), "the token is in raw docker logs")
    try followLogsAndStop(bin: bin, dir: dir)

    // 6. docker stop: comfy-init turns SIGTERM into ComfyUI's SIGINT; exit 0, well within the grace period.
    let stop = try runTool(["/usr/bin/env", "docker", "stop", container])
    #expect(stop.status == 0)
    let exitCode = try runTool(["/usr/bin/env", "docker", "inspect", "--format", "{{.State.ExitCode}}", container])
    #expect(exitCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    let code = exitCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    print("e2e: docker stop took \(seconds(stop.seconds)), exit code \(code)")

    // 7. Up again, with a second instance (the flux profile, its own port and volumes): everything is
    // baked in, so neither the restarted container nor the new one runs pip at all.
    // `docker logs --since` takes nanoseconds: the old start's lines are all before this instant.
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let since = "\(now.tv_sec).\(String(repeating: "0", count: 9 - String(now.tv_nsec).count))\(now.tv_nsec)"
    // No --cpu this time: COMFYUI_CPU=1 in .env does it. And --skip-models with a manifest that is
    // not there: without the skip, comfy-init would stop (exit 20) at the models phase.
    let plainEnv = dir.read(".env")
    dir.write(".env", plainEnv + "COMFYUI_CPU=1\nCOMFYUI_MODELS_MANIFEST=/opt/comfyui/no-such-manifest.txt\n")
    let again = try ctl(["up", "--profile", "flux", "--skip-models", "--wait-timeout", "120"])
    #expect(again.status == 0, "\(again.all)")
    #expect(again.stdout.contains("(CPU only)"), "\(again.all)")
    // The changed settings made Compose create the main container anew: its log is this start's only.
    let main = try containerID(of: "comfyui", project: names.project)
    let flux = try containerID(of: "comfyui-flux", project: names.project)
    for (id, sinceArgs) in [(main, main == container ? ["--since", since] : []), (flux, [])] {
      let start = try runTool(["/usr/bin/env", "docker", "logs"] + sinceArgs + [id])
      #expect(start.all.contains("venv: up to date, no installer run"), "\(start.all)")
      #expect(start.all.contains("skipped (COMFYUI_SKIP_MODELS=1)"), "\(start.all)")
      for installer in ["venv: installing", "Successfully installed", "pip install"] {
        #expect(!start.all.contains(installer), "a start ran an installer: \(start.all)")
      }
    }
    let fluxValidate = try ctl(["validate", "--url", "http://127.0.0.1:\(names.fluxPort)"])
    #expect(fluxValidate.status == 0, "\(fluxValidate.all)")

    // 8. Rotate with restart, then the matrix again with the new token.
    let rotate = try ctl(["secrets", "rotate", "--restart"])
    #expect(rotate.status == 0, "\(rotate.all)")
    let second = try SecretsStore(project: Project(root: dir.path)).load()
    #expect(second.hash != first.hash)
    let revalidate = try ctl(["validate"])
    let serverLog = revalidate.status == 0 ? "" : (try? ctl(["logs", "--tail", "80"]).all) ?? ""
    #expect(revalidate.status == 0, "\(revalidate.all)\n\(serverLog)")
    let env = try EnvFile.load(dir.file(".env"))
    #expect(env.value("COMFYUI_BEARER_TOKEN") == second.hash)
    #expect(env.value("COMFYUI_API_TOKEN") == second.hash)
    let check = try ctl(["secrets", "check"])
    #expect(check.status == 0, "\(check.all)")

    // 9. status, and restart: not healthy within --wait-timeout is exit 14, then a full restart.
    let status = try ctl(["status"])
    #expect(status.status == 0, "\(status.all)")
    #expect(status.stdout.hasPrefix("project \(names.project) (\(dir.path))\n"), "\(status.all)")
    #expect(status.stdout.contains("comfyui: running healthy  http://127.0.0.1:\(names.port)\n"), "\(status.all)")
    #expect(status.stdout.contains("comfyui-flux: running healthy  http://127.0.0.1:\(names.fluxPort)\n"))
    #expect(status.stdout.contains("  last check: ok"), "\(status.all)")
    let impatient = try ctl(["restart", "--wait-timeout", "0"])
    #expect(impatient.status == CtlExitCode.healthTimeout.rawValue, "\(impatient.all)")
    #expect(impatient.stderr.hasPrefix("comfyctl: not healthy after 0 s ("), "\(impatient.all)")
    #expect(impatient.stderr.hasSuffix("see `comfyctl logs`, or wait longer with --wait-timeout\n"))
    let restart = try ctl(["restart", "--wait-timeout", "120"])
    #expect(restart.status == 0, "\(restart.all)")
    #expect(restart.stdout.contains("comfyui: healthy after"), "\(restart.all)")
    #expect(try ctl(["validate"]).status == 0)

    // 10. down without --deep removes the containers and keeps the volumes: a file in the models
    // volume is there again after the next up.
    let current = try containerID(of: "comfyui", project: names.project)
    let plant = try runTool([
      "/usr/bin/env", "docker", "exec", current, "touch", "/opt/comfyui/ComfyUI/models/kept.txt",
    ])
    #expect(plant.status == 0, "\(plant.all)")
    let shallow = try ctl(["down"])
    #expect(shallow.status == 0, "\(shallow.all)")
    #expect(shallow.stdout.contains("stack \(names.project) removed (volumes kept)"), "\(shallow.all)")
    #expect(try projectObjects(["ps", "-a"], project: names.project).isEmpty)
    // Compose's volumes of comfyui and flux (input, output, user, custom_nodes each); the models volume
    // both mount is comfyctl's, outside the project's label.
    #expect(try projectObjects(["volume", "ls"], project: names.project).count == 8)
    #expect(Docker.volumeExists(names.project + "_models"))
    let stopped = try ctl(["status"])
    #expect(stopped.status == 0 && stopped.stdout.contains("not running; start it with `comfyctl up`"))
    dir.write(".env", plainEnv)  // back to `--cpu`, without the manifest
    let back = try ctl(["up", "--cpu", "--wait-timeout", "120"])
    #expect(back.status == 0, "\(back.all)")
    let kept = try runTool([
      "/usr/bin/env", "docker", "exec", try containerID(of: "comfyui", project: names.project), "test", "-f",
      "/opt/comfyui/ComfyUI/models/kept.txt",
    ])
    #expect(kept.status == 0, "the models volume did not survive `down`: \(kept.all)")

    // 11. down --deep: no container, volume or network of the project is left but the shared models
    // volume (the downloads); --deep --models removes that too.
    let down = try ctl(["down", "--deep", "--yes"])
    #expect(down.status == 0, "\(down.all)")
    for kind in [["ps", "-a"], ["volume", "ls"], ["network", "ls"]] {
      let left = try projectObjects(kind, project: names.project)
      #expect(left.isEmpty, "\(kind[0]) left: \(left)")
    }
    #expect(Docker.volumeExists(names.project + "_models") && down.stdout.contains("models: kept"), "\(down.all)")
    let models = try ctl(["down", "--deep", "--models", "--yes"])
    #expect(models.status == 0 && !Docker.volumeExists(names.project + "_models"), "\(models.all)")
    print("e2e figures: image build \(seconds(build.seconds)); docker stop \(seconds(stop.seconds)) (exit 0)")
    print("e2e figures: up to healthy: first \(healthyTime(up)), second \(healthyTime(again))")
  }

  /// Issue 8: each deployment folder is a Compose project of its own (so one folder's stale
  /// custom_nodes volume can never shadow another's login node), and `up` stops a service that lets
  /// callers in without credentials, although Docker calls it healthy.
  @Test(.needs(.docker), .timeLimit(.minutes(10))) func deploymentFoldersShareNoVolumesAndAnOpenServerIsStopped() throws
  {
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build or swift build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")

    // Two folders on one host, neither naming its project: comfyctl derives the names.
    let (a, names) = try makeStandinProject(label: "Deploy.A", recordName: false)
    let b = CtlTempDir("Deploy.B")
    try FileManager.default.copyItem(atPath: a.file("compose"), toPath: b.file("compose"))
    let portB = freeTCPPort()
    b.write(".env", "COMFYUI_IMAGE='\(names.image)'\nCOMFYUI_HOST_PORT='\(portB)'\n")
    let (nameA, nameB) = (names.project, expectedProjectName(of: b))
    #expect(nameA != nameB)
    // A volume of the old shared project `comfyui`: each first `up` warns about it, once.
    let legacyVolume = "comfyui_comfyctl-e2e-legacy-\(getpid())"
    let legacy = try runTool([
      "/usr/bin/env", "docker", "volume", "create", "--label", "com.docker.compose.project=comfyui", legacyVolume,
    ])
    try #require(legacy.status == 0, "\(legacy.all)")
    let ctl = { (dir: CtlTempDir, args: [String]) throws -> RunResult in
      let result = try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
      print(
        "e2e: comfyctl \(args.joined(separator: " ")) in \(dir.path) -> \(result.status) in \(seconds(result.seconds))")
      return result
    }
    defer {
      for dir in [a, b] { _ = try? ctl(dir, ["down", "--deep", "--models", "--yes"]) }
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", names.image])
      _ = try? runTool(["/usr/bin/env", "docker", "volume", "rm", "-f", legacyVolume])
    }

    let build = try ctl(a, ["build", "--base-image", EndToEndDockerTests.baseImage, "--standin"])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")
    for dir in [a, b] {
      let up = try ctl(dir, ["up", "--cpu", "--wait-timeout", "180"])
      try #require(up.status == 0, "up failed: \(up.all)")
      #expect(up.stderr.contains("set COMFYUI_PROJECT_NAME=comfyui in .env to keep using them"), "\(up.all)")
    }
    // Recorded, so that a moved folder keeps its volumes.
    #expect(try EnvFile.load(a.file(".env")).value("COMFYUI_PROJECT_NAME") == nameA)
    #expect(try EnvFile.load(b.file(".env")).value("COMFYUI_PROJECT_NAME") == nameB)

    // Each container mounts its own project's volumes, custom_nodes included.
    let containerA = try containerID(of: "comfyui", project: nameA)
    let containerB = try containerID(of: "comfyui", project: nameB)
    let mountsA = try volumeMounts(of: containerA)
    let mountsB = try volumeMounts(of: containerB)
    #expect(mountsA.contains("\(nameA)_custom_nodes") && mountsB.contains("\(nameB)_custom_nodes"))
    #expect(mountsA.count == 5 && mountsB.count == 5 && mountsA.isDisjoint(with: mountsB), "\(mountsA) \(mountsB)")

    // `status` says which project it is; hand-run Compose (the compose file's header) finds the same one.
    let status = try ctl(a, ["status"])
    #expect(status.status == 0 && status.stdout.contains("project \(nameA) ("), "\(status.all)")
    #expect(status.stdout.contains("comfyui: running healthy"), "\(status.all)")
    let byHand = try runTool(
      [
        "/usr/bin/env", "docker", "compose", "--project-directory", ".", "-f", "compose/docker-compose.yml", "ps", "-q",
      ],
      directory: a.path)
    #expect(byHand.status == 0 && byHand.stdout.hasPrefix(containerA), "\(byHand.all)")

    // An image from before comfy-init guarded auth (COMFYUI_IMAGE pinned to an old tag): it serves without
    // ComfyUI-Login, and its health check sends only the token, which an open server accepts. Docker calls
    // it healthy; `up` must not. The stand-in for that old entrypoint is a wrapper around today's binary.
    let oldImage = names.image + "-before-the-guard"
    let context = CtlTempDir("old-image")
    context.write(
      "Dockerfile",
      """
      FROM \(names.image)
      USER root
      RUN mv /usr/local/bin/comfy-init /usr/local/bin/comfy-init.today \\
        && printf '%s\\n' '#!/bin/sh' '# STAND-IN for an entrypoint that let ComfyUI serve without auth.' \\
          'if [ "$1" = health ]; then exec env COMFYUI_AUTH=none comfy-init.today health; fi' \\
          'exec env COMFYUI_AUTH=none comfy-init.today "$@"' >/usr/local/bin/comfy-init \\
        && chmod 755 /usr/local/bin/comfy-init
      USER 1000:1000

      """)
    let oldBuild = try runTool(["/usr/bin/env", "docker", "build", "-q", "-t", oldImage, context.path], timeout: 300)
    try #require(oldBuild.status == 0, "\(oldBuild.all)")
    defer {
      _ = try? ctl(b, ["down", "--deep", "--models", "--yes"])
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", oldImage])
    }
    b.write(".env", b.read(".env").replacingOccurrences(of: names.image, with: oldImage))
    let open = try ctl(b, ["up", "--cpu", "--wait-timeout", "180"])
    #expect(open.status == CtlExitCode.authNotEnforced.rawValue, "\(open.all)")
    #expect(
      open.stderr == "comfyctl: auth not enforced: GET /system_stats without credentials answered 200 on port "
        + "\(portB); the service was stopped (is ComfyUI-Login loaded? see `comfyctl logs`)\n", "\(open.all)")
    #expect(!open.stdout.contains("healthy and refuses"))
    let stateB = try runTool([
      "/usr/bin/env", "docker", "inspect", "--format", "{{.State.Status}}", containerID(of: "comfyui", project: nameB),
    ])
    #expect(stateB.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "exited", "\(stateB.all)")
    #expect(!isListening(on: portB), "port \(portB) still answers")
    // The other deployment is untouched and still refuses anonymous callers.
    let rowsA = AuthProbe(baseURL: "http://127.0.0.1:\(names.port)").checkAnonymousAccess()
    #expect(rowsA.allSatisfy { $0.passed }, "\(rowsA)")
  }

  /// `comfyctl logs -f` follows until it is stopped: started as a shell job, it shows a line the server
  /// logged, then Ctrl-C (SIGINT to the job's process group) ends it at once; and SIGTERM to comfyctl
  /// alone (a supervisor, `timeout`) ends it too, without leaving its `docker compose logs` behind.
  func followLogsAndStop(bin: String, dir: CtlTempDir) throws {
    for (signal, group) in [(SIGINT, true), (SIGTERM, false)] {
      let follow = try BackgroundProcess(
        [bin, "logs", "-f", "--tail", "500", "--project-dir", dir.path],
        environment: ProcessInfo.processInfo.environment,
        log: dir.file("follow-\(signal).log"), newProcessGroup: true)
      defer { follow.stop() }
      let shown = pollUntil(60, every: 0.05) { follow.log.contains("token=<redacted>") }
      try #require(shown, "logs -f showed nothing: \(follow.log)")
      let compose = descendants(of: follow.pid)
      #expect(!compose.isEmpty && follow.isRunning, "logs -f ended by itself: \(follow.log)")
      kill(group ? -follow.pid : follow.pid, signal)
      _ = follow.wait(timeout: 10)
      let exit = follow.exitStatus
      #expect(exit == .signaled(signal) || exit == .exited(0), "logs -f after \(signal): \(String(describing: exit))")
      #expect(!follow.log.contains("comfyctl: "), "logs -f reported an error: \(follow.log)")
      let gone = pollUntil(10, every: 0.05) { !compose.contains(where: processIsAlive) }
      #expect(gone, "`docker compose logs -f` still runs after comfyctl ended (signal \(signal))")
      for pid in compose where processIsAlive(pid) { kill(pid, SIGKILL) }
    }
  }

  /// The ids of the project's containers (`ps -a`), volumes or networks.
  func projectObjects(_ kind: [String], project: String) throws -> [String] {
    let left = try runTool(
      ["/usr/bin/env", "docker"] + kind + ["--quiet", "--filter", "label=com.docker.compose.project=\(project)"])
    return left.stdout.split(separator: "\n").map(String.init)
  }

  /// The named volumes a container mounts.
  func volumeMounts(of container: String) throws -> Set<String> {
    let result = try runTool([
      "/usr/bin/env", "docker", "inspect", "--format", "{{range .Mounts}}{{if .Name}}{{.Name}} {{end}}{{end}}",
      container,
    ])
    return Set(result.stdout.split(whereSeparator: \.isWhitespace).map(String.init))
  }

  /// Something accepts TCP connections on 127.0.0.1:port.
  func isListening(on port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    } == 0
  }

  struct Names {
    var project: String
    var image: String
    var port: Int
    var fluxPort: Int
  }

  /// A project folder with what the build and the stack need, and names of its own. Without
  /// `recordName` the project name is left for comfyctl to derive from the folder's name.
  func makeStandinProject(label: String = "e2e", recordName: Bool = true) throws -> (CtlTempDir, Names) {
    let dir = CtlTempDir(label)
    let fm = FileManager.default
    let root = CtlPaths.root
    for path in ["Dockerfile", ".dockerignore", "compose", "manifests"] {
      try fm.copyItem(atPath: root + "/" + path, toPath: dir.file(path))
    }
    try fm.createDirectory(atPath: dir.file("dist"), withIntermediateDirectories: true)
    try fm.copyItem(atPath: CtlPaths.comfyInit, toPath: dir.file("dist/comfy-init"))
    try fm.copyItem(atPath: CtlPaths.comfyGateway, toPath: dir.file("dist/comfy-gateway"))
    try fm.createDirectory(atPath: dir.file("Tests/Fixtures"), withIntermediateDirectories: true)
    for path in ["make-standin-repos.sh", "standin-comfyui", "standin-login"] {
      try fm.copyItem(atPath: root + "/Tests/Fixtures/" + path, toPath: dir.file("Tests/Fixtures/" + path))
    }
    try fm.createDirectory(atPath: dir.file(".cache/wheels"), withIntermediateDirectories: true)
    for wheel in try fm.contentsOfDirectory(atPath: root + "/.cache/wheels") where wheel.hasSuffix(".whl") {
      try fm.copyItem(atPath: root + "/.cache/wheels/" + wheel, toPath: dir.file(".cache/wheels/" + wheel))
    }
    let names = Names(
      project: recordName ? "comfyctl-\(label)-\(getpid())" : expectedProjectName(of: dir),
      image: "comfyctl-e2e:\(label.lowercased().filter { $0.isLetter || $0.isNumber })-\(getpid())",
      port: freeTCPPort(),
      fluxPort: freeTCPPort())
    dir.write(
      ".env",
      """
      # e2e test project
      \(recordName ? "COMFYUI_PROJECT_NAME='\(names.project)'" : "")
      COMFYUI_IMAGE='\(names.image)'
      COMFYUI_HOST_PORT='\(names.port)'
      COMFYUI_FLUX_PORT='\(names.fluxPort)'

      """)
    return (dir, names)
  }

  /// Compose's rule for a folder name, spelled out for the names TempDir makes (letters, digits,
  /// dashes, dots): lowercase, dots dropped.
  func expectedProjectName(of dir: CtlTempDir) -> String {
    URL(fileURLWithPath: dir.path).lastPathComponent.lowercased().replacingOccurrences(of: ".", with: "")
  }

  func containerID(of service: String, project: String) throws -> String {
    let result = try runTool([
      "/usr/bin/env", "docker", "ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project=\(project)",
      "--filter", "label=com.docker.compose.service=\(service)",
    ])
    return try #require(result.stdout.split(separator: "\n").first.map(String.init), "no \(service) container")
  }

  /// "healthy after 2.1 s" as comfyctl up printed it.
  func healthyTime(_ run: RunResult) -> String {
    guard let range = run.stdout.range(of: "healthy after ") else { return "?" }
    return String(run.stdout[range.upperBound...].prefix { $0 != "\n" })
  }

  func seconds(_ value: Double) -> String { String(format: "%.2f s", value) }

  /// A socket listening on 127.0.0.1:port, as another program would hold it.
  func listen(on port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    let bound = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(bound == 0 && Glibc.listen(fd, 1) == 0, "cannot hold port \(port)")
    return fd
  }

  func freeTCPPort() -> Int { freePort() }
}
