// docs/comfyctl.md's exit 15: a container that stops while starting ends `comfyctl up`'s wait at once
// with the container's last log line, instead of a timeout minutes later. The real comfyctl and the
// real engine and Compose, with an image whose entrypoint fails the way comfy-init does.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct ContainerDiesTests {
  @Test(.needs(.docker), .timeLimit(.minutes(5))) func upExits15WhenTheContainerDiesWhileStarting() throws {
    let bin = try #require(CtlPaths.comfyctl, "comfyctl is not built; run scripts/build")
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let (dir, project) = makeProject("dies")
    let image = "comfyctl-dies-\(getpid()):test"
    let line = "comfy-init: error: cannot clone ComfyUI from https://example.invalid/ComfyUI.git; check the URL"
    let context = CtlTempDir("dies-image")
    context.write(
      "Dockerfile",
      """
      FROM \(EndToEndDockerTests.baseImage)
      ENTRYPOINT ["/bin/sh", "-c", "echo starting; sleep 1; echo '\(line)' >&2; exit 14"]

      """)
    let built = try runTool(["/usr/bin/env", "docker", "build", "-q", "-t", image, context.path], timeout: 300)
    try #require(built.status == 0, "\(built.all)")
    dir.write(".env", dir.read(".env") + "COMFYUI_HOST_PORT=\(freePort())\n")
    defer {
      _ = try? runTool([bin, "down", "--deep", "--models", "--yes", "--project-dir", project.root], timeout: 120)
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", image])
    }

    let up = try runTool(
      [bin, "up", "--cpu", "--tag", image, "--wait-timeout", "120", "--project-dir", project.root], timeout: 240)
    #expect(up.status == CtlExitCode.containerFailed.rawValue, "\(up.all)")
    #expect(up.status == 15)
    #expect(up.seconds < 60, "the wait did not end when the container died: \(up.seconds) s")
    // Seen stopped, or already restarted (restart: unless-stopped): either way the run that failed is
    // named with its last line, never the new run's (Docker then says exit code 0, and its log goes on).
    let stopped = "comfyui stopped (exit code 14) while starting: \(line); see `comfyctl logs`"
    let restarted = "comfyui stopped and was restarted while starting: \(line); see `comfyctl logs`"
    #expect(up.stderr.contains(stopped) || up.stderr.contains(restarted), "\(up.all)")
  }
}
