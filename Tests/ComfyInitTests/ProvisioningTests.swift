// Provisioning from a manifest: `comfy-init provision` against a local HTTPS server, proving from
// the server's own request log what went over the wire (resumes fetch only the missing bytes).
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct ManifestParsingTests {
  let hash = String(repeating: "ab", count: 32)

  @Test func readsLinesCommentsAndNoCheck() throws {
    let text = """
      # Qwen image edit
      https://h/a.safetensors  diffusion_models/a.safetensors  \(hash.uppercased())   # trailing comment

      https://h/b#frag\tvae/./b.safetensors -\r
      """
    let entries = try ModelManifest.parse(text, source: "m.txt")
    #expect(entries.count == 2)
    #expect(
      entries[0]
        == ModelEntry(
          source: .url("https://h/a.safetensors"), dest: "diffusion_models/a.safetensors", sha256: hash, line: 2))
    #expect(entries[1] == ModelEntry(source: .url("https://h/b#frag"), dest: "vae/b.safetensors", sha256: nil, line: 4))
  }

  @Test func readsHubAndCivitaiSourcesWithOrWithoutAChecksum() throws {
    let text = """
      hf://black-forest-labs/FLUX.1-dev/flux1-dev.safetensors diffusion_models/flux1-dev.safetensors
      hf://Comfy-Org/Qwen-Image_ComfyUI@v1.0/split_files/vae/qwen_image_vae.safetensors vae/q.safetensors \(hash)
      hf://datasets/someone/data@abc1234/x/y.bin other/y.bin -
      civitai://128713 checkpoints/dreamshaper.safetensors
      """
    let entries = try ModelManifest.parse(text, source: "m.txt")
    let flux = ModelSource.HubFile(
      kind: "models", repo: "black-forest-labs/FLUX.1-dev", revision: "main", path: "flux1-dev.safetensors")
    #expect(entries[0].source == .hub(flux))
    #expect(entries[0].sha256 == nil)
    #expect(
      flux.resolveURL(endpoint: "https://huggingface.co")
        == "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors")
    #expect(
      entries[1].source.text(commit: "c0ffee1")
        == "hf://Comfy-Org/Qwen-Image_ComfyUI@c0ffee1/split_files/vae/qwen_image_vae.safetensors")
    guard case .hub(let data) = entries[2].source else { Issue.record("not a hub source"); return }
    #expect(data.kind == "datasets" && data.revision == "abc1234")
    #expect(data.resolveURL(endpoint: "https://e") == "https://e/datasets/someone/data/resolve/abc1234/x/y.bin")
    #expect(entries[3].source == .civitai(versionID: "128713"))
  }

  @Test(arguments: [
    ("https://h/a /abs/a.bin H", "m.txt:1: DEST '/abs/a.bin' leaves ComfyUI/models"),
    ("https://h/a ../a.bin H", "m.txt:1: DEST '../a.bin' leaves"),
    ("https://h/a vae/../../a.bin H", "leaves ComfyUI/models"),
    ("https://h/a vae/ H", "leaves ComfyUI/models"),
    ("https://h/a vae/a.bin H extra", "m.txt:1: expected `SOURCE DEST [SHA256]`, found 4"),
    ("https://h/a", "m.txt:1: expected `SOURCE DEST [SHA256]`, found 1"),
    ("hf://owner/a.bin vae/a.bin H", "is not hf://OWNER/REPO[@REVISION]/PATH"),
    ("hf://owner/repo@/a.bin vae/a.bin H", "is not hf://OWNER/REPO[@REVISION]/PATH"),
    ("hf://owner/repo/../a.bin vae/a.bin H", "'.' or '..' parts"),
    ("civitai://abc vae/a.bin H", "is not civitai://MODEL_VERSION_ID"),
    ("https://h/a .comfy-init/models.lock H", "inside models/.comfy-init"),
    ("https://h/a vae/a.bin 1234", "m.txt:1: '1234' is not a SHA-256"),
    ("ftp://h/a vae/a.bin H", "is not an https URL, hf://"),
    ("https://h/a vae/a.bin.partial H", "ends in .partial"),
    ("# one\nhttps://h/a vae/a.bin H\nhttps://h/b vae//a.bin H", "m.txt:3: DEST 'vae/a.bin' is already on line 2"),
  ])
  func rejectsBadLines(line: String, message: String) {
    let text = line.replacingOccurrences(of: " H", with: " " + hash)
    do {
      _ = try ModelManifest.parse(text, source: "m.txt")
      Issue.record("accepted: \(line)")
    } catch {
      #expect(error.code == .models)
      #expect(error.message.contains(message), "\(error.message)")
    }
  }

  @Test(arguments: ["qwen-image-edit.txt", "sd15-small.txt", "flux-dev.txt", "sd35-large.txt", "sd35-medium.txt"])
  func theShippedManifestsParseAndPinEveryHash(name: String) throws {
    let entries = try ModelManifest.load(Paths.root + "/manifests/" + name)
    #expect(!entries.isEmpty)
    #expect(entries.allSatisfy { $0.sha256 != nil })
  }

  @Test func formatsProgress() {
    #expect(formatBytes(999) == "999 B")
    #expect(formatBytes(1_500) == "1.5 kB")
    #expect(formatBytes(240_000_000) == "240.0 MB")
    #expect(formatBytes(20_406_000_000) == "20.41 GB")
    #expect(formatETA(42) == "42 s")
    #expect(formatETA(200) == "3 min 20 s")
    #expect(formatETA(3_900) == "1 h 05 min")
    #expect(formatRate(2_000_000, remaining: 10_000_000) == "2.0 MB/s, ETA 5 s")
  }
}

@Suite struct ProvisioningTests {
  @Test func downloadsVerifiesPlacesAndASecondRunFetchesNothing() throws {
    let a = modelBytes(1_500_000, seed: 1)
    let b = modelBytes(700_000, seed: 2)
    let server = try ModelServer(files: ["a.bin": a, "b.bin": b])
    let home = try ProvisionHome()
    try home.writeManifest([
      "# two models",
      "\(server.url("a.bin")) checkpoints/a.bin \(sha256Hex(a))",
      "\(server.redirect(to: "/files/b.bin")) vae/sub/b.bin -   # no hash: a warning",
    ])
    let first = try home.provision()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(home.contents("checkpoints/a.bin") == a)
    #expect(home.contents("vae/sub/b.bin") == b)
    #expect(!home.exists("checkpoints/a.bin.partial"))
    #expect(first.stderr.contains("nothing gives the SHA-256 of vae/sub/b.bin; the first download's is locked"))
    #expect(first.stderr.contains("placed checkpoints/a.bin"))
    let served = server.requests(atLeast: 3).count

    let second = try home.provision()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(second.stderr.contains("all 2 in place, nothing to download"))
    #expect(server.requests().count == served, "the second run must not ask the server anything")
    #expect(!second.stderr.contains("checking its sha256"), "the stamp spares the re-hash")
  }

  @Test func twoModelsDownloadInParallelUpToTheLimit() throws {
    let files = ["p.bin": modelBytes(600_000, seed: 3), "q.bin": modelBytes(600_000, seed: 4)]
    let server = try ModelServer(files: files)
    let home = try ProvisionHome()
    try home.writeManifest(
      files.keys.sorted().map { "\(server.url($0, query: "rate=1500000")) loras/\($0) \(sha256Hex(files[$0]!))" })
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    let requests = server.requests(atLeast: 2)
    try #require(requests.count == 2)
    #expect(requests[0].start < requests[1].end && requests[1].start < requests[0].end, "the two transfers overlap")

    let serial = try ProvisionHome()
    try serial.writeManifest(
      files.keys.sorted().map { "\(server.url($0, query: "rate=1500001")) loras/\($0) \(sha256Hex(files[$0]!))" })
    #expect(try serial.provision(["COMFYUI_DOWNLOAD_CONCURRENCY": "1"]).status == 0)
    let one = server.requests(atLeast: 4).suffix(2)
    #expect(one.first!.end <= one.last!.start, "COMFYUI_DOWNLOAD_CONCURRENCY=1 runs one transfer at a time")
  }

  @Test func resumesAfterTheServerDropsTheConnection() throws {
    let data = modelBytes(3_000_000, seed: 5)
    let server = try ModelServer(files: ["big.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("big.bin", query: "drop=1000000")) checkpoints/big.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("checkpoints/big.bin") == data)
    let requests = server.requests(atLeast: 2)
    try #require(requests.count == 2, "\(requests)")
    #expect(requests[0].dropped && requests[0].bytes == 1_000_000)
    #expect(requests[1].range == "bytes=1000000-" && requests[1].status == 206)
    #expect(requests[1].bytes == 2_000_000, "only the missing bytes are fetched again")
    #expect(result.stderr.contains("retrying in"))
  }

  @Test func resumesAfterSIGKILL() throws {
    let data = modelBytes(3_000_000, seed: 6)
    let server = try ModelServer(files: ["k.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("k.bin", query: "rate=3000000")) unet/k.bin \(sha256Hex(data))"])
    let first = try BackgroundProcess(
      [Paths.comfyInit, "provision"], environment: home.environment(), log: home.dir.path + "/first.log")
    #expect(pollUntil(10) { home.size("unet/k.bin.partial") >= 1_000_000 })
    first.signal(SIGKILL)
    _ = first.wait(timeout: 10)
    let kept = home.size("unet/k.bin.partial")
    #expect(kept > 0 && kept < data.count)

    let second = try home.provision()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(home.contents("unet/k.bin") == data)
    #expect(second.stderr.contains("resuming at"))
    let last = try #require(server.requests(atLeast: 2).last)
    #expect(last.range == "bytes=\(kept)-")
    #expect(last.bytes == data.count - kept, "only the missing bytes are fetched again")
  }

  @Test func aServerIgnoringRangeRestartsTheFileFromZero() throws {
    let data = modelBytes(800_000, seed: 7)
    let server = try ModelServer(files: ["n.bin": data])
    let home = try ProvisionHome()
    try FileManager.default.createDirectory(atPath: home.models + "/vae", withIntermediateDirectories: true)
    try Data(repeating: 0x55, count: 300_000).write(to: URL(fileURLWithPath: home.models + "/vae/n.bin.partial"))
    try home.writeManifest(["\(server.url("n.bin", query: "norange=1")) vae/n.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("vae/n.bin") == data)
    #expect(result.stderr.contains("starting over from 0"))
    #expect(server.requests(atLeast: 1).map(\.status) == [200])
  }

  @Test func aWholePartialFileIsPlacedWithoutFetchingItAgain() throws {
    // A crash between the last byte and the rename: the server answers 416, nothing is left to fetch.
    let data = modelBytes(500_000, seed: 16)
    let server = try ModelServer(files: ["whole.bin": data])
    let home = try ProvisionHome()
    try FileManager.default.createDirectory(atPath: home.models + "/vae", withIntermediateDirectories: true)
    try Data(data).write(to: URL(fileURLWithPath: home.models + "/vae/whole.bin.partial"))
    try home.writeManifest(["\(server.url("whole.bin")) vae/whole.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("vae/whole.bin") == data)
    let requests = server.requests(atLeast: 1)
    #expect(requests.map(\.status) == [416] && requests[0].range == "bytes=500000-")
  }

  @Test func aPresentFileWithTheWrongHashIsMovedAsideAndFetchedAgain() throws {
    let data = modelBytes(400_000, seed: 8)
    let server = try ModelServer(files: ["w.bin": data])
    let home = try ProvisionHome()
    try FileManager.default.createDirectory(atPath: home.models + "/loras", withIntermediateDirectories: true)
    let old = Data("not the model".utf8)
    try old.write(to: URL(fileURLWithPath: home.models + "/loras/w.bin"))
    try home.writeManifest(["\(server.url("w.bin")) loras/w.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("loras/w.bin") == data)
    #expect(home.contents("loras/w.bin.mismatch-1") == [UInt8](old), "the wrong file is kept, not deleted")
    #expect(result.stderr.contains("moved it to"))
  }

  @Test func aWrongChecksumFailsWithExitCode20AndKeepsTheDownload() throws {
    let data = modelBytes(400_000, seed: 9)
    let server = try ModelServer(files: ["c.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["", "\(server.url("c.bin")) checkpoints/c.bin \(String(repeating: "0", count: 64))"])
    let result = try home.provision()
    #expect(result.status == 20)
    #expect(
      result.stderr.contains("manifest.txt:2: checkpoints/c.bin arrived with sha256 \(sha256Hex(data))"),
      "\(result.stderr)")
    #expect(!home.exists("checkpoints/c.bin"))
    #expect(home.contents("checkpoints/c.bin.mismatch-1") == data)
    #expect(Status.read(HomeLayout(home: home.home, venv: home.home + "/venv"))?.phase == .failed)
  }

  @Test func a404FailsAtOnce() throws {
    let server = try ModelServer(files: [:])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("missing.bin")) vae/missing.bin -"])
    let result = try home.provision()
    #expect(result.status == 20)
    #expect(result.stderr.contains("vae/missing.bin (manifest line 1): HTTP 404"), "\(result.stderr)")
    #expect(server.requests(atLeast: 1).count == 1, "a 404 is not retried")
  }

  @Test func aTransientErrorIsRetried() throws {
    let data = modelBytes(200_000, seed: 10)
    let server = try ModelServer(files: ["f.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("f.bin", query: "flaky=1")) vae/f.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    // The HEAD that asks for the size meets the 503 first, waits, asks again; then the GET.
    #expect(server.allRequests(atLeast: 3).map(\.status) == [503, 200, 200])
  }

  @Test func theTokenGoesOnlyToTokenHosts() throws {
    let data = modelBytes(300_000, seed: 11)
    let server = try ModelServer(files: ["t.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("t.bin", query: "auth=1")) checkpoints/t.bin \(sha256Hex(data))"])

    let none = try home.provision()
    #expect(none.status == 20)
    #expect(none.stderr.contains("HTTP 401") && none.stderr.contains("set HF_TOKEN"), "\(none.stderr)")
    #expect(none.stderr.contains("Invalid credentials"), "the server's reason is shown")

    let notAHost = try home.provision(["HF_TOKEN": ModelServer.token])
    #expect(notAHost.status == 20)
    #expect(notAHost.stderr.contains("add 127.0.0.1 to COMFYUI_TOKEN_HOSTS"), "\(notAHost.stderr)")
    #expect(server.requests(atLeast: 2).allSatisfy { $0.auth == nil }, "no token to a host that is not listed")

    let tokenFile = home.dir.path + "/token"
    try (ModelServer.token + "\n").write(toFile: tokenFile, atomically: true, encoding: .utf8)
    let ok = try home.provision(["HF_TOKEN_FILE": tokenFile, "COMFYUI_TOKEN_HOSTS": "127.0.0.1"])
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(home.contents("checkpoints/t.bin") == data)
    #expect(server.requests(atLeast: 3).last?.auth == "Bearer " + ModelServer.token)
    #expect(!ok.stderr.contains(ModelServer.token), "the token never reaches the log")
  }

  @Test func redirectsKeepTheTokenOnTheSameOriginOnly() throws {
    let data = modelBytes(300_000, seed: 12)
    let twin = modelBytes(300_000, seed: 120)
    let server = try ModelServer(files: ["r.bin": data, "o.bin": twin])
    let home = try ProvisionHome()
    let elsewhere = server.url("o.bin", host: "127.0.0.2")
    try home.writeManifest([
      "\(server.redirect(to: "/files/r.bin?auth=1", query: "auth=1")) vae/same.bin \(sha256Hex(data))",
      "\(server.redirect(to: elsewhere, query: "auth=1")) vae/other.bin \(sha256Hex(twin))",
    ])
    let env = [
      "HF_API_TOKEN": ModelServer.token, "COMFYUI_TOKEN_HOSTS": "127.0.0.1", "COMFYUI_DOWNLOAD_CONCURRENCY": "1",
    ]
    let result = try home.provision(env)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("vae/same.bin") == data && home.contents("vae/other.bin") == twin)
    let requests = server.requests(atLeast: 4)
    #expect(requests.count == 4)
    #expect(requests.filter { $0.address == "127.0.0.1" }.allSatisfy { $0.auth == "Bearer " + ModelServer.token })
    let moved = server.allRequests { $0.address == "127.0.0.2" }
    #expect(moved.filter { $0.method == "GET" }.count == 1)
    #expect(moved.allSatisfy { $0.auth == nil }, "the token follows no redirect to another host, GET or HEAD")

    // A host behind a cross-origin redirect that wants the token is refused, with the reason.
    try home.writeManifest(["\(server.redirect(to: elsewhere + "?auth=1")) vae/gated.bin -"])
    let gated = try home.provision(env.merging(["COMFYUI_TOKEN_HOSTS": "127.0.0.1,127.0.0.2"]) { $1 })
    #expect(gated.status == 20)
    #expect(gated.stderr.contains("not after a redirect"), "\(gated.stderr)")
  }

  @Test(.needs(.tmpfs)) func aFullDiskFailsBeforeDownloading() throws {
    let data = modelBytes(3_000_000, seed: 13)
    let server = try ModelServer(files: ["d.bin": data])
    let home = try ProvisionHome()
    let mount = try runProcess(
      ["/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", home.models], environment: baseEnvironment())
    try #require(mount.status == 0, "cannot mount a tmpfs although this machine can: \(mount.stderr)")
    defer { _ = try? runProcess(["/bin/umount", home.models], environment: baseEnvironment()) }
    try home.writeManifest(["\(server.url("d.bin")) checkpoints/d.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 20)
    // The whole manifest is checked before the first byte: nothing is written, no GET is made.
    #expect(result.stderr.contains("the downloads need 3.0 MB, "), "\(result.stderr)")
    #expect(result.stderr.contains("free on \(home.models); free space or grow the volume"))
    #expect(!home.exists("checkpoints/d.bin") && !home.exists("checkpoints/d.bin.partial"))
    #expect(server.requests().isEmpty)
  }

  @Test(arguments: ["COMFYUI_SKIP_MODELS", "COMFYUI_OFFLINE"])
  func skippingWarnsAboutMissingModelsAndFetchesNothing(variable: String) throws {
    let server = try ModelServer(files: ["s.bin": modelBytes(1000, seed: 14)])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("s.bin")) checkpoints/s.bin -"])
    let result = try home.provision([variable: "1"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      result.stderr.contains("warning: models: checkpoints/s.bin is missing and \(variable)=1 keeps it"),
      "\(result.stderr)")
    #expect(server.requests().isEmpty)
  }

  @Test func aLinkOutOfTheModelsFolderIsRefused() throws {
    let home = try ProvisionHome()
    let outside = TempDir("outside")
    try FileManager.default.createSymbolicLink(atPath: home.models + "/evil", withDestinationPath: outside.path)
    try home.writeManifest(["https://127.0.0.1:1/files/x.bin evil/x.bin -"])
    let result = try home.provision()
    #expect(result.status == 20)
    #expect(
      result.stderr.contains("manifest.txt:1:") && result.stderr.contains("leads outside ComfyUI/models"),
      "\(result.stderr)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)

    try home.writeManifest(["https://127.0.0.1:1/files/x.bin ../../x.bin -"])
    let escape = try home.provision()
    #expect(escape.status == 20)
    #expect(escape.stderr.contains("manifest.txt:1: DEST '../../x.bin' leaves ComfyUI/models"), "\(escape.stderr)")
  }

  @Test func healthSaysProvisioningWithProgressAndAStopKeepsThePartialFile() throws {
    let data = modelBytes(6_000_000, seed: 15)
    let server = try ModelServer(files: ["h.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("h.bin", query: "rate=1500000")) diffusion_models/h.bin \(sha256Hex(data))"])
    let run = try BackgroundProcess(
      [Paths.comfyInit, "provision"], environment: home.environment(), log: home.dir.path + "/run.log")
    defer { run.stop() }
    var line = ""
    let seen = pollUntil(15) {
      let health = try? runProcess(
        [Paths.comfyInit, "health", "--progress"], environment: home.environment(), timeout: 10)
      line = health?.stdout ?? ""
      return line.hasPrefix("provisioning ") && line.contains("/6.0 MB, ") && line.contains("ETA")
        && line.contains("\nfile ")
    }
    #expect(seen, "health said: \(line)")
    // The machine lines comfyctl draws: the total, then one per file.
    let lines = line.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    #expect(lines.count == 3 && lines[1].first == "total" && lines[1].count == 6, "\(line)")
    #expect(lines[2] == ["file"] + lines[2][1...3] + ["downloading", "diffusion_models/h.bin"], "\(line)")
    #expect(lines[2][2] == "6000000")
    #expect(run.log.contains("models: diffusion_models/h.bin: "), "a progress line per file")

    run.signal(SIGTERM)
    let ended = run.wait(timeout: 5)
    #expect(ended?.status == 0, "a stop during downloads is answered at once: \(run.log)")
    #expect(home.size("diffusion_models/h.bin.partial") > 0, "the partial file stays for the next start")
  }

  @Test func theBootstrapRunsTheModelsPhaseAndHealthSaysProvisioning() throws {
    let data = modelBytes(1_500_000, seed: 17)
    let server = try ModelServer(files: ["boot.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("boot.bin", query: "rate=500000")) vae/boot.bin \(sha256Hex(data))"])
    var env = comfyEnvironment(home: home.home, port: freePort(), extra: home.environment())
    env["COMFYUI_PASSWORD"] = "correct-horse-battery-staple"
    let run = try BackgroundProcess([Paths.comfyInit, "bootstrap"], environment: env, log: home.dir.path + "/boot.log")
    defer { run.stop() }
    var line = ""
    let seen = pollUntil(60) {
      line = (try? runProcess([Paths.comfyInit, "health"], environment: env, timeout: 10))?.stdout ?? ""
      return line.hasPrefix("provisioning: bootstrap phase models") || !run.isRunning
    }
    #expect(seen && line.hasPrefix("provisioning: bootstrap phase models"), "health said: \(line)")
    #expect(run.wait(timeout: 30)?.status == 0, "\(run.log)")
    #expect(home.contents("vae/boot.bin") == data)
    #expect(run.log.contains("comfy-init: models: 0 in place, 1 downloaded"), "\(run.log)")
  }
}
