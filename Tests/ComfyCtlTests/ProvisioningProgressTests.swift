// Issue 20: what `comfy-init health --progress` prints, as `up` and `status` show it: the machine lines
// parsed (garbage never is one), the verdict alone when there are none (an older comfy-init), bars on a
// terminal that never outgrow its width, one plain line otherwise.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct ProvisioningProgressTests {
  static let sample = """
    provisioning 12.3/29.4 GB, 210 MB/s, ETA 1m21s
    total 1 3 12300000000 29400000000 210000000
    file 9380000000 9380000000 0 done text_encoders/qwen_2.5_vl_7b_fp8_scaled.safetensors
    file 2920000000 20400000000 210000000 downloading diffusion_models/qwen_image_edit_fp8_e4m3fn.safetensors
    file 0 254000000 0 waiting vae/qwen_image_vae.safetensors
    """

  @Test func theMachineLinesAreParsedAndTheVerdictKept() {
    let progress = ProvisioningProgress.parse(Self.sample)
    #expect(progress.verdict == "provisioning 12.3/29.4 GB, 210 MB/s, ETA 1m21s")
    #expect(
      progress.total
        == .init(filesDone: 1, files: 3, bytesDone: 12_300_000_000, bytesTotal: 29_400_000_000, rate: 210_000_000))
    #expect(progress.files.count == 3)
    #expect(progress.files[1].state == "downloading" && progress.files[1].bytesTotal == 20_400_000_000)
    #expect(progress.activeFiles.map(\.state) == ["downloading", "waiting"])
    #expect(
      progress.summary
        == "1/3 files, 12.3/29.4 GB (41%), 210 MB/s, ETA 1m21s; downloading qwen_image_edit_fp8_e4m3fn.safetensors "
        + "2.9/20.4 GB, waiting qwen_image_vae.safetensors 0 B/254 MB")
  }

  /// Garbage never counts as progress: wrong field counts, words for numbers, negative numbers, an
  /// unknown state, a DEST with a space (seven fields). The last line that is not a machine line is the verdict.
  @Test func garbageIsNeverAMachineLine() {
    let text = """
      total 1 3 12 29
      total a b c d e
      total 1 3 -5 29 1
      file 1 2 3 flying models/x.safetensors
      file 1 2 3 downloading models/a b.safetensors
      file x 2 3 done y
      \u{1B}[31mtotal 1 2 3 4 5\u{1B}[0m
      installing: bootstrap phase venv
      """
    let progress = ProvisioningProgress.parse(text)
    #expect(progress.total == nil && progress.files.isEmpty, "\(progress)")
    #expect(!progress.hasDetail && progress.summary.isEmpty)
    #expect(progress.verdict == "installing: bootstrap phase venv")
  }

  /// An older comfy-init (or none of the models phase): the verdict alone, a CUDA line before it ignored.
  @Test func withoutMachineLinesTheVerdictAloneIsShown() {
    let old = ProvisioningProgress.parse("cuda ok: the driver supports CUDA 12.8\nprovisioning: models phase\n")
    #expect(old.verdict == "provisioning: models phase" && !old.hasDetail)
    #expect(old.barLines(label: "comfyui", width: 80).isEmpty)
    #expect(ProvisioningProgress.parse("").verdict == nil)
    #expect(ProvisioningProgress.parse("\n  \n").verdict == nil)
  }

  @Test func barsOnATerminalStayWithinItsWidth() {
    let progress = ProvisioningProgress.parse(Self.sample)
    let lines = progress.barLines(label: "comfyui-qwen-image-edit", width: 200)
    #expect(lines.count == 3, "\(lines)")
    #expect(lines[0].contains("[########------------]  41% 1/3 files 12.3/29.4 GB  210 MB/s  ETA 1m21s"), "\(lines[0])")
    #expect(lines[1].contains("[#---------]  14% 2.9/20.4 GB  210 MB/s  ETA 1m23s  downloading diffusion_models/"))
    #expect(lines[2].hasSuffix("waiting vae/qwen_image_vae.safetensors"), "\(lines[2])")
    for width in [20, 40, 80] {
      for line in progress.barLines(label: "comfyui-qwen-image-edit", width: width) {
        #expect(line.count < width, "\(width): \(line)")
      }
    }
  }

  @Test func unitsRatesAndETAs() {
    #expect(ProvisioningProgress.size(999) == "999 B")
    #expect(ProvisioningProgress.size(254_000_000) == "254 MB")
    #expect(ProvisioningProgress.amount(12_300_000_000, of: 29_400_000_000) == "12.3/29.4 GB")
    #expect(ProvisioningProgress.amount(500_000_000, of: 0) == "500 MB")  // total unknown
    #expect(ProvisioningProgress.rate(210_000_000) == "210 MB/s")
    #expect(ProvisioningProgress.eta(done: 0, total: 100, rate: 0) == nil)
    #expect(ProvisioningProgress.eta(done: 0, total: 0, rate: 10) == nil)
    #expect(ProvisioningProgress.eta(done: 0, total: 45, rate: 1) == "45s")
    #expect(ProvisioningProgress.eta(done: 0, total: 81, rate: 1) == "1m21s")
    #expect(ProvisioningProgress.eta(done: 0, total: 7500, rate: 1) == "2h05m")
    #expect(ProvisioningProgress.eta(done: 200, total: 100, rate: 1) == "0s")  // more than the total: done
    #expect(ProvisioningProgress.bar(0, of: 0, cells: 4) == "[----]  ?%")
    #expect(ProvisioningProgress.bar(50, of: 100, cells: 4) == "[##--]  50%")
    #expect(ProvisioningProgress.bar(100, of: 100, cells: 4) == "[####] 100%")
  }

  /// A terminal's block is rewritten in place: back to its first line, erased, written again.
  @Test func theConsoleRewritesABlockOfLines() {
    #expect(Console.clear(0) == "\r\u{1B}[J")
    #expect(Console.clear(1) == "\r\u{1B}[J")
    #expect(Console.clear(3) == "\r\u{1B}[2A\u{1B}[J")
  }

  /// In a real container: a comfy-init that knows `--progress` gives its machine lines; one from before
  /// refuses the flag (usage, exit 2, nothing on stdout) and is asked plainly, its verdict kept.
  @Test(.needs(.docker), .timeLimit(.minutes(3))) func liveProgressAsksAndFallsBackInAContainer() throws {
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args, timeout: 120)
    }
    var containers: [String] = []
    var images: [String] = []
    defer {
      if !containers.isEmpty { _ = try? docker(["rm", "-f"] + containers) }
      if !images.isEmpty { _ = try? docker(["image", "rm", "-f"] + images) }
    }
    /// A container whose `comfy-init` is the shell script `body` (the arguments in "$@").
    func container(_ label: String, _ body: String) throws -> String {
      let context = CtlTempDir("progress-" + label)
      context.write("comfy-init", "#!/bin/sh\n" + body + "\n")
      chmod(context.file("comfy-init"), 0o755)
      context.write(
        "Dockerfile",
        "FROM \(EndToEndDockerTests.baseImage)\nCOPY comfy-init /usr/local/bin/comfy-init\n"
          + "ENTRYPOINT [\"sleep\", \"300\"]\n")
      let image = "comfyctl-progress-\(label)-\(getpid()):test"
      images.append(image)
      let built = try docker(["build", "-q", "-t", image, context.path])
      try #require(built.status == 0, "\(built.all)")
      let name = "comfyctl-progress-\(label)-\(getpid())"
      containers.append(name)
      let run = try docker(["run", "-d", "--name", name, image])
      try #require(run.status == 0, "\(run.all)")
      return name
    }
    let current = try container(
      "new",
      """
      [ "$2" = --progress ] || { echo "provisioning 1.0/2.0 GB, 100 MB/s, ETA 10s"; exit 1; }
      echo "provisioning 1.0/2.0 GB, 100 MB/s, ETA 10s"
      echo "total 0 1 1000000000 2000000000 100000000"
      echo "file 1000000000 2000000000 100000000 downloading checkpoints/a.safetensors"
      exit 1
      """)
    let asked = Docker.liveProgress(of: current)
    #expect(asked.supported && asked.progress.verdict == "provisioning 1.0/2.0 GB, 100 MB/s, ETA 10s")
    #expect(asked.progress.total?.bytesTotal == 2_000_000_000 && asked.progress.activeFiles.count == 1)

    let old = try container(
      "old",
      """
      for a in "$@"; do [ "$a" = --progress ] && { echo "comfy-init: error: usage: comfy-init health [--timeout SECONDS]" >&2; exit 2; }; done
      echo "installing: models phase"
      exit 1
      """)
    let plain = Docker.liveProgress(of: old)
    #expect(!plain.supported && plain.progress.verdict == "installing: models phase" && !plain.progress.hasDetail)
    // Asked plainly from then on: the flag is not tried again.
    let again = Docker.liveProgress(of: old, asking: false)
    #expect(!again.supported && again.progress.verdict == "installing: models phase")
  }

  /// HealthWaiter, the way `up` uses it, on a container whose comfy-init reports a download for a few
  /// seconds and then serves: the progress is shown (a plain line without a terminal, bars with one),
  /// then the service is healthy.
  @Test(.needs(.docker), .timeLimit(.minutes(3)), arguments: [false, true])
  func upShowsTheDownloadUntilHealthy(terminal: Bool) throws {
    let base = try runTool([CtlPaths.root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let docker = { (args: [String]) throws -> RunResult in try runTool(["/usr/bin/env", "docker"] + args, timeout: 120)
    }
    let label = terminal ? "tty" : "plain"
    let image = "comfyctl-progress-up-\(label)-\(getpid()):test"
    let name = "comfyctl-progress-up-\(label)-\(getpid())"
    defer {
      _ = try? docker(["rm", "-f", name])
      _ = try? docker(["image", "rm", "-f", image])
    }
    let context = CtlTempDir("progress-up")
    context.write(
      "comfy-init",
      """
      #!/bin/sh
      # Downloading for 4 s after the start, then serving.
      if [ $(( $(date +%s) - $(cat /tmp/started) )) -ge 4 ]; then echo "ok: serving"; exit 0; fi
      echo "provisioning 1.0/3.0 GB, 100 MB/s, ETA 20s"
      for a in "$@"; do
        if [ "$a" = --progress ]; then
          echo "total 0 2 1000000000 3000000000 100000000"
          echo "file 1000000000 2000000000 100000000 downloading checkpoints/a.safetensors"
          echo "file 0 1000000000 0 queued vae/b.safetensors"
        fi
      done
      exit 1

      """)
    chmod(context.file("comfy-init"), 0o755)
    context.write(
      "Dockerfile",
      """
      FROM \(EndToEndDockerTests.baseImage)
      COPY comfy-init /usr/local/bin/comfy-init
      HEALTHCHECK --interval=1s --timeout=5s --start-period=60s CMD ["comfy-init", "health"]
      ENTRYPOINT ["sh", "-c", "date +%s >/tmp/started && exec sleep 300"]

      """)
    let built = try docker(["build", "-q", "-t", image, context.path])
    try #require(built.status == 0, "\(built.all)")
    let run = try docker(["run", "-d", "--name", name, image])
    try #require(run.status == 0, "\(run.all)")

    let captured = Captured()
    var waiter = HealthWaiter(services: ["svc"], timeout: 60) { () throws(CtlError) in
      [ContainerInfo(id: name, name: name, service: "svc", state: "running", health: "")]
    }
    waiter.output = Console(isTerminal: terminal) { captured.append($0) }
    let seconds = try waiter.waitUntilHealthy()
    let text = captured.text
    #expect(seconds >= 3, "\(text)")
    #expect(text.contains("svc: provisioning 1.0/3.0 GB, 100 MB/s, ETA 20s"), "\(text)")
    if terminal {
      #expect(text.contains("  svc [######--------------]  33% 0/2 files 1.0/3.0 GB  100 MB/s  ETA 20s"), "\(text)")
      #expect(text.contains("[#####-----]  50% 1.0/2.0 GB  100 MB/s  ETA 10s  downloading check"))
      #expect(!text.contains("queued vae/b.safetensors"), "queued files are counted in the total only")
      #expect(text.contains("\u{1B}[2A\u{1B}[J"), "the block of three lines is rewritten in place")
    } else {
      #expect(
        text.contains("  svc: 0/2 files, 1.0/3.0 GB (33%), 100 MB/s, ETA 20s; downloading a.safetensors 1.0/2.0 GB\n"),
        "\(text)")
      #expect(!text.contains("\u{1B}"), "no escape sequences without a terminal")
      // Byte counts alone do not print a line twice a second.
      #expect(text.components(separatedBy: "svc: 0/2 files").count - 1 <= 2, "\(text)")
    }
    #expect(text.contains("svc: healthy after"), "\(text)")
  }
}

/// What a Console wrote, for the tests.
final class Captured: @unchecked Sendable {
  private let lock = NSLock()
  private var chunks: [String] = []
  func append(_ text: String) { lock.withLock { chunks.append(text) } }
  var text: String { lock.withLock { chunks.joined() } }
}
