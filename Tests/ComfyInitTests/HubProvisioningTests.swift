// hf:// and civitai:// sources against the stand-in Hub, CDN and CivitAI (Tests/Fixtures/standin-hub,
// its rules read from ../shared/docs/model-sources.md): what the Hub's HEAD says is locked and then
// enforced, a branch is resolved once, gated repositories and CivitAI logins are refused with a
// sentence a person can act on, rate limits are waited out, a signed URL that expires mid-download is
// found again without starting over, and no token ever reaches the CDN, the log or the environment.
import Foundation
import Testing

private let flux = "black-forest-labs/FLUX.1-dev"

/// A token file in `home`'s folder (a deployment's secret file), and the variable that points at it.
private func tokenFile(_ home: ProvisionHome, _ name: String, _ token: String) throws -> String {
  let path = home.dir.path + "/" + name
  try token.write(toFile: path, atomically: true, encoding: .utf8)
  chmod(path, 0o600)
  return path
}

@Suite struct HubProvisioningTests {
  @Test func aHubFileIsLockedAtItsCommitAndABranchIsResolvedOnce() throws {
    let hub = try StandinHub()
    let vae = modelBytes(400_000, seed: 60)
    let encoder = modelBytes(300_000, seed: 61)
    let first = try hub.addRepo(
      "Comfy-Org/Qwen-Image_ComfyUI", files: ["split_files/vae/q.safetensors": vae, "te/t.safetensors": encoder])
    let home = try ProvisionHome()
    try home.writeManifest([
      hub.hfLine("Comfy-Org/Qwen-Image_ComfyUI", "split_files/vae/q.safetensors", dest: "vae/q.safetensors")
    ])
    let placed = try home.provision(hub.environment())
    #expect(placed.status == 0, "\(placed.stderr)")
    #expect(home.contents("vae/q.safetensors") == vae)
    #expect(home.lockFile.contains("revision Comfy-Org/Qwen-Image_ComfyUI@main \(first)"), "\(home.lockFile)")
    #expect(
      home.lockFile.contains(
        "file vae/q.safetensors 400000 \(sha256Hex(vae)) hf://Comfy-Org/Qwen-Image_ComfyUI@\(first)/split_files/vae/q.safetensors"
      ),
      "\(home.lockFile)")

    // main moves on (the encoder changes); a second file of the same revision comes from the locked commit.
    let second = try hub.commit(
      "Comfy-Org/Qwen-Image_ComfyUI", files: ["te/t.safetensors": modelBytes(300_000, seed: 62)])
    #expect(second != first)
    try home.writeManifest([
      hub.hfLine("Comfy-Org/Qwen-Image_ComfyUI", "split_files/vae/q.safetensors", dest: "vae/q.safetensors"),
      hub.hfLine("Comfy-Org/Qwen-Image_ComfyUI", "te/t.safetensors", dest: "text_encoders/t.safetensors"),
    ])
    let more = try home.provision(hub.environment())
    #expect(more.status == 0, "\(more.stderr)")
    #expect(home.contents("text_encoders/t.safetensors") == encoder, "the commit main had at the first download")
    let resolves = hub.requests().filter { $0.kind == "hf" }
    #expect(resolves.last?.path.contains("/resolve/\(first)/te/t.safetensors") == true, "\(resolves.map(\.path))")

    // What verifies asks nothing, whatever the Hub does.
    try hub.unavailable(next: 100)
    let before = hub.requests().count
    let quiet = try home.provision(hub.environment())
    #expect(quiet.status == 0 && quiet.stderr.contains("all 2 in place"), "\(quiet.stderr)")
    #expect(hub.requests().count == before, "no request at all")

    // `models lock` prints the manifest pinned, to commit beside it.
    let pinned = try runProcess(
      [Paths.comfyInit, "models", "lock", home.manifest], environment: home.environment(hub.environment()))
    #expect(
      pinned.stdout.contains(
        "hf://Comfy-Org/Qwen-Image_ComfyUI@\(first)/te/t.safetensors text_encoders/t.safetensors \(sha256Hex(encoder))"),
      "\(pinned.stdout)\(pinned.stderr)")
  }

  @Test func aFileThatChangedUpstreamIsRefusedAndNothingIsPlaced() throws {
    let hub = try StandinHub()
    let original = modelBytes(200_000, seed: 63)
    let commit = try hub.addRepo("o/r", files: ["m.safetensors": original])
    let home = try ProvisionHome()
    try home.writeManifest([hub.hfLine("o/r", "m.safetensors", dest: "checkpoints/m.safetensors")])
    #expect(try home.provision(hub.environment()).status == 0)
    // The same commit now serves other bytes (a rewritten history, a wrong mirror).
    let changed = modelBytes(200_000, seed: 64)
    try hub.put("swapped.bin", changed)
    try hub.update { $0.repos["o/r"]?.commits[commit]?["m.safetensors"] = "swapped.bin" }
    try FileManager.default.removeItem(atPath: home.models + "/checkpoints/m.safetensors")
    let refused = try home.provision(hub.environment())
    #expect(refused.status == 20)
    #expect(
      refused.stderr.contains("now has sha256 \(sha256Hex(changed)), models.lock pins \(sha256Hex(original))"),
      "\(refused.stderr)")
    #expect(refused.stderr.contains("the file changed upstream; nothing was placed"))
    #expect(!home.exists("checkpoints/m.safetensors"))
    #expect(hub.cdnRequests().count == 1, "the changed file was not even downloaded")
  }

  @Test func aGatedRepoSaysWhatToDoWithAndWithoutAToken() throws {
    let hub = try StandinHub()
    let ae = modelBytes(250_000, seed: 65)
    try hub.addRepo(flux, files: ["ae.safetensors": ae], gated: true, tokens: ["hf_granted"])
    let home = try ProvisionHome()
    try home.writeManifest([hub.hfLine(flux, "ae.safetensors", dest: "vae/ae.safetensors")])

    let none = try home.provision(hub.environment())
    #expect(none.status == 20)
    #expect(
      none.stderr.contains(
        "FLUX.1-dev is gated: accept its licence at \(hub.hfEndpoint)/\(flux), then give the token (comfyctl secrets hf-token"
      ),
      "\(none.stderr)")

    let wrong = try tokenFile(home, "wrong", "hf_not_granted")
    let denied = try home.provision(hub.environment().merging(["HF_TOKEN_FILE": wrong]) { $1 })
    #expect(denied.status == 20)
    #expect(
      denied.stderr.contains(
        "your token (HF_TOKEN_FILE) has no access to \(flux): ask for access at \(hub.hfEndpoint)/\(flux)"),
      "\(denied.stderr)")

    let right = try tokenFile(home, "right", "hf_granted\n")
    let run = try home.provisionInBackground(hub.environment().merging(["HF_TOKEN_FILE": right]) { $1 })
    #expect(run.wait(timeout: 30)?.status == 0, "\(run.log)")
    #expect(home.contents("vae/ae.safetensors") == ae)
    #expect(!run.log.contains("hf_granted") && !denied.stderr.contains("hf_not_granted"), "no token in the log")
    let requests = hub.requests()
    #expect(requests.filter { $0.kind == "hf" }.contains { $0.authorized }, "the Hub got the token")
    #expect(
      !hub.cdnRequests().isEmpty && hub.cdnRequests().allSatisfy { !$0.authorized && !$0.queryToken },
      "the CDN never did")
  }

  @Test func aRateLimitIsWaitedOutAsTheHubSays() throws {
    let hub = try StandinHub()
    let data = modelBytes(100_000, seed: 66)
    try hub.addRepo("o/limited", files: ["a.bin": data])
    try hub.rateLimit(next: 2, t: 0)
    let home = try ProvisionHome()
    try home.writeManifest([hub.hfLine("o/limited", "a.bin", dest: "loras/a.bin")])
    let result = try home.provision(hub.environment())
    #expect(result.status == 0, "\(result.stderr)")
    #expect(
      result.stderr.contains("HTTP 429 from \(hub.hfEndpoint)/o/limited/resolve/main/a.bin; asking again in 1"),
      "\(result.stderr)")
    #expect(hub.requests().filter { $0.kind == "hf" }.map(\.status).prefix(2) == [429, 429])
    #expect(home.contents("loras/a.bin") == data)
  }

  @Test func aSignedURLThatExpiresMidDownloadIsFoundAgainWithoutStartingOver() throws {
    let hub = try StandinHub()
    let data = modelBytes(6_000_000, seed: 67)
    try hub.addRepo("o/big", files: ["big.safetensors": data])
    // Each signed URL serves three requests, then answers 403 as an expired S3 URL does.
    try hub.cdn {
      $0.expireAfterRequests = 3
      $0.throttle = 3_000_000
    }
    let home = try ProvisionHome()
    try home.writeManifest([hub.hfLine("o/big", "big.safetensors", dest: "diffusion_models/big.safetensors")])
    let result = try home.provision(
      hub.environment().merging(["COMFYUI_DOWNLOAD_CONNECTIONS": "2", "COMFYUI_DOWNLOAD_PIECE_MB": "1"]) { $1 })
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("diffusion_models/big.safetensors") == data)
    #expect(result.stderr.contains("from the signed URL (expired?)"), "\(result.stderr)")
    #expect(!result.stderr.contains("X-Amz-Signature"), "a signed URL's query never reaches the log")
    let cdn = hub.cdnRequests()
    #expect(cdn.contains { $0.status == 403 }, "it did expire")
    #expect(
      cdn.filter { $0.status == 206 && $0.range != "bytes=0-0" }.reduce(0) { $0 + $1.bytes } == data.count,
      "every byte once (besides the one-byte probes that find a signed URL): nothing fetched twice")
    #expect(hub.requests().filter { $0.kind == "hf" }.count >= 3, "resolved again from the Hub")
  }

  @Test func civitaiNeedsItsTokenOnItsHostOnly() throws {
    let hub = try StandinHub()
    let model = modelBytes(300_000, seed: 68)
    try hub.addCivitaiVersion(
      128_713, name: "dreamshaper_8.safetensors", bytes: model, loginRequired: true, tokens: ["civ_ok"])
    let home = try ProvisionHome()
    try home.writeManifest([hub.civitaiLine(128_713, dest: "checkpoints/dreamshaper_8.safetensors")])
    let none = try home.provision(hub.environment())
    #expect(none.status == 20)
    #expect(
      none.stderr.contains("CivitAI model version 128713 requires you to be logged in")
        && none.stderr.contains("give a token (comfyctl secrets civitai-token)"), "\(none.stderr)")

    try hub.update { $0.civitaiTokens = ["civ_ok"] }
    let file = try tokenFile(home, "civitai", "civ_ok")
    let ok = try home.provision(hub.environment().merging(["CIVITAI_TOKEN_FILE": file]) { $1 })
    #expect(ok.status == 0, "\(ok.stderr)")
    #expect(home.contents("checkpoints/dreamshaper_8.safetensors") == model)
    // CivitAI's SHA-256 (upper-case in its JSON) is what was checked and locked.
    #expect(
      home.lockFile.contains("file checkpoints/dreamshaper_8.safetensors 300000 \(sha256Hex(model)) civitai://128713"),
      "\(home.lockFile)")
    let storage = hub.cdnRequests()
    #expect(
      !storage.isEmpty && storage.allSatisfy { !$0.authorized && !$0.queryToken },
      "storage answers 400 to a token; none went")
    #expect(!ok.stderr.contains("civ_ok"))
  }
}
