// What a crashed or killed Docker test leaves (a project's volumes, a volume made by hand) is removed
// by the next run, once the process that named it is gone; a running test's things are left alone.
import Foundation
import Testing

@Suite(.serialized) struct DockerLeftoversTests {
  @Test(.needs(.docker)) func leftoversOfDeadRunsAreSweptAndLiveOnesKept() throws {
    let gone = try runProcess(["/bin/sh", "-c", "echo $$"], environment: [:])
    let dead = try #require(Int32(gone.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    try #require(!processIsAlive(dead))
    let label = "com.docker.compose.project"
    let inProject = "comfyctl-sweep-\(dead)_data"
    let byHand = "comfyui_comfyctl-sweep-legacy-\(dead)"
    let live = "comfyctl-sweep-\(getpid())_data"
    let volumes: [(name: String, project: String?)] = [
      (inProject, "comfyctl-sweep-\(dead)"), (byHand, nil), (live, "comfyctl-sweep-\(getpid())"),
    ]
    for volume in volumes {
      let labels = volume.project.map { ["--label", "\(label)=\($0)"] } ?? []
      let made = try runTool(["/usr/bin/env", "docker", "volume", "create"] + labels + [volume.name])
      try #require(made.status == 0, "\(made.all)")
    }
    defer { _ = try? runTool(["/usr/bin/env", "docker", "volume", "rm", "-f"] + volumes.map(\.name)) }

    DockerLeftovers.sweep()
    let left = try runTool(["/usr/bin/env", "docker", "volume", "ls", "--format", "{{.Name}}"]).stdout
      .split(separator: "\n").map(String.init)
    #expect(!left.contains(inProject), "a dead run's project volume was left")
    #expect(!left.contains(byHand), "a dead run's volume was left")
    #expect(left.contains(live), "a running test's volume was swept")
  }
}
