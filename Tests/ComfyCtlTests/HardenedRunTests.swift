// Issue 13's image, run the way cluster policies run containers: a read-only root, an arbitrary uid with
// gid 0 (OpenShift), every capability dropped and no-new-privileges, with the mounts docs/hardening.md
// lists (tmpfs for the state folder and ComfyUI's temp/, volumes for the data, the secret file read-only
// where compose puts it). It must serve with auth, pass validate, stop with 0 within the grace period,
// start again on the same volumes without installing anything, and refuse a missing mount with one line.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct HardenedRunTests {
  static let uid = "12345"
  static let dataFolders = ["models", "input", "output", "user", "custom_nodes"]

  @Test(.needs(.docker), .timeLimit(.minutes(15)))
  func theImageServesFromAReadOnlyRootAsAnyUidWithGroupZeroAndNoCapabilities() throws {
    let e2e = EndToEndDockerTests()
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, names) = try e2e.makeStandinProject(label: "hardened")
    let ctl = { (args: [String]) throws -> RunResult in
      try runTool([bin] + args + ["--project-dir", dir.path], timeout: 600)
    }
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args) }
    let prefix = "comfyctl-hardened-\(getpid())"
    let volumes = HardenedRunTests.dataFolders.map { "\(prefix)-\($0.replacingOccurrences(of: "_", with: "-"))" }
    let containers = ["run1", "run2", "nostate", "notemp"].map { "\(prefix)-\($0)" }
    defer {
      _ = try? docker(["rm", "-f"] + containers)
      _ = try? docker(["volume", "rm", "-f"] + volumes)
      _ = try? docker(["image", "rm", "-f", names.image])
    }
    #expect(try ctl(["secrets", "init"]).status == 0)
    let build = try ctl(["build", "--base-image", EndToEndDockerTests.baseImage, "--standin"])
    try #require(build.status == 0, "build failed: \(build.all.suffix(3000))")

    // The hash as a Kubernetes Secret volume gives it to the pod: a read-only file only that uid reads.
    let secretDir = CtlTempDir("hardened-secret")
    let secret = secretDir.file("comfyui_password_hash")
    try FileManager.default.copyItem(atPath: dir.file(".secrets/comfyui_password_hash"), toPath: secret)
    #expect(chown(secret, uid_t(HardenedRunTests.uid)!, 0) == 0 && chmod(secret, 0o400) == 0)

    let port = e2e.freeTCPPort()
    /// `docker run` as the pod spec would: `tmpfs` lists the tmpfs mounts (the state folder, temp/).
    func hardenedRun(_ name: String, tmpfs: [String], detached: Bool) -> [String] {
      var args = ["run", "--name", name, "--read-only", "--user", "\(HardenedRunTests.uid):0"]
      args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--stop-timeout", "12"]
      args += ["-p", "127.0.0.1:\(port):8188"]
      for mount in tmpfs { args += ["--tmpfs", mount] }
      for (volume, folder) in zip(volumes, HardenedRunTests.dataFolders) {
        args += ["-v", volume + ":/opt/comfyui/ComfyUI/" + folder]
      }
      args += ["-v", secret + ":/run/secrets/comfyui_password_hash:ro"]
      args += ["-e", "COMFYUI_PASSWORD_HASH_FILE=/run/secrets/comfyui_password_hash", "-e", "COMFYUI_ARGS=--cpu"]
      if detached { args.append("-d") }
      return args + [names.image]
    }
    let mounts = ["/run/comfy-init", "/opt/comfyui/ComfyUI/temp"]

    /// Polls `comfy-init health` inside the container, as a probe does, until it passes.
    func waitUntilHealthy(_ name: String) throws -> Bool {
      let deadline = Date().addingTimeInterval(120)
      while Date() < deadline {
        if try docker(["exec", name, "comfy-init", "health"]).status == 0 { return true }
        let state = try docker(["inspect", "-f", "{{.State.Running}}", name])
        if state.stdout.hasPrefix("false") { return false }
        usleep(250_000)
      }
      return false
    }

    /// Stops it as Kubernetes would at the end of the grace period's clock; the exit code and seconds.
    func stop(_ name: String) throws -> (Int32, Double) {
      let started = Date()
      let stopped = try docker(["stop", "-t", "12", name])
      #expect(stopped.status == 0, "\(stopped.all)")
      let code = try docker(["inspect", "-f", "{{.State.ExitCode}}", name]).stdout.trimmingCharacters(
        in: .whitespacesAndNewlines)
      return (Int32(code) ?? -1, Date().timeIntervalSince(started))
    }

    // 1. The first start: serves with auth, validate passes, a stop ends with 0 well within the grace.
    let first = try docker(hardenedRun(containers[0], tmpfs: mounts, detached: true))
    try #require(first.status == 0, "\(first.all)")
    let healthy = try waitUntilHealthy(containers[0])
    let firstLog = try docker(["logs", containers[0]]).all
    try #require(healthy, "not healthy: \(firstLog.suffix(3000))")
    #expect(firstLog.contains("state: took over"), "the build's stamps were not taken over: \(firstLog.suffix(3000))")
    let validate = try ctl(["validate", "--url", "http://127.0.0.1:\(port)"])
    #expect(validate.status == 0, "\(validate.all)")
    let (firstCode, firstSeconds) = try stop(containers[0])
    #expect(firstCode == 0 && firstSeconds < 12, "exit \(firstCode) after \(firstSeconds) s: \(firstLog.suffix(2000))")

    // 2. A restart on the same volumes installs nothing. The build's stamps are hidden (a tmpfs over
    // them), so the checkouts are read with git, as a uid that owns none of them: git's ownership
    // check must not refuse them, and nothing may be cloned, moved or installed.
    let second = try docker(hardenedRun(containers[1], tmpfs: mounts + ["/opt/comfyui/.comfy-init"], detached: true))
    try #require(second.status == 0, "\(second.all)")
    let healthyAgain = try waitUntilHealthy(containers[1])
    let secondLog = try docker(["logs", containers[1]]).all
    #expect(healthyAgain, "not healthy after a restart: \(secondLog.suffix(3000))")
    #expect(secondLog.contains("source: ComfyUI at v0.8.0-standin"), "\(secondLog.suffix(3000))")
    #expect(secondLog.contains("venv: up to date, no installer run"), "\(secondLog.suffix(3000))")
    for word in ["dubious ownership", "cloned", "left alone", "moving it", "installed"] {
      #expect(!secondLog.contains(word), "the restart said '\(word)': \(secondLog.suffix(3000))")
    }
    #expect(try ctl(["validate", "--url", "http://127.0.0.1:\(port)"]).status == 0)
    let (secondCode, _) = try stop(containers[1])
    #expect(secondCode == 0)

    // 3. A missing mount: one line naming it, exit 12 (filesystem), no server started, no traceback.
    let cases = [
      (containers[2], [mounts[1]], "COMFYUI_STATE_DIR=/run/comfy-init is on a read-only filesystem; mount a writable"),
      (containers[3], [mounts[0]], "ComfyUI writes to /opt/comfyui/ComfyUI/temp, which is on a read-only filesystem"),
    ]
    for (name, tmpfs, message) in cases {
      // The stand-in, like ComfyUI, would serve on a read-only temp/: without the check this run
      // would not end, so it gets a deadline.
      let run = try runTool(["/usr/bin/env", "docker"] + hardenedRun(name, tmpfs: tmpfs, detached: false), timeout: 90)
      let errors = run.all.split(separator: "\n").filter { $0.contains("error:") }
      #expect(run.status == 12, "\(run.all.suffix(2000))")
      #expect(errors.count == 1 && errors[0].contains(message), "\(run.all.suffix(2000))")
      #expect(!run.all.contains("Traceback") && !run.all.contains("serve: started"), "\(run.all.suffix(2000))")
    }
  }
}
