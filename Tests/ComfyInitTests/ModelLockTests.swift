// The pure parts of provisioning at scale: the lock file, the part map, CivitAI's JSON, the server's
// delay headers and the progress headline. The downloads themselves are in ProvisioningTests and
// HubProvisioningTests, against real HTTPS servers.
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct ModelLockTests {
  let sha = String(repeating: "ab", count: 32)

  @Test func theLockRoundTripsAndIgnoresGarbage() {
    var lock = ModelLock()
    lock.revisions["black-forest-labs/FLUX.1-dev@main"] = "0123456789abcdef0123456789abcdef01234567"
    lock.files["vae/ae.safetensors"] = ModelLock.File(
      size: 335_304_388, sha256: sha,
      source: "hf://black-forest-labs/FLUX.1-dev@0123456789abcdef0123456789abcdef01234567/ae.safetensors")
    let (back, garbage) = ModelLock.parse(lock.text + "file broken\nrevision x@main NOT-A-COMMIT\n\u{0}\u{1}\n")
    #expect(back == lock)
    #expect(garbage == 3)
  }

  @Test func aLockedFileAppliesOnlyWhileTheManifestKeepsItsSource() throws {
    let commit = "0123456789abcdef0123456789abcdef01234567"
    var lock = ModelLock()
    lock.revisions["o/r@main"] = commit
    lock.files["vae/a.bin"] = ModelLock.File(size: 3, sha256: sha, source: "hf://o/r@\(commit)/a.bin")
    let same = try ModelManifest.parse("hf://o/r/a.bin vae/a.bin", source: "m")[0]
    let moved = try ModelManifest.parse("hf://o/r@v2/a.bin vae/a.bin", source: "m")[0]
    #expect(lock.file(for: same)?.sha256 == sha)
    #expect(lock.file(for: moved) == nil)
  }

  @Test func thePartMapSaysWhatIsThereAndHowFarTheHashCanRun() throws {
    var map = PartMap(size: 100, source: "s", pieceSize: 30)
    #expect(map.count == 4 && map.length(3) == 10)
    map.done = [30, 5, 30, 0]
    #expect(map.contiguous == 35)
    #expect(map.bytesPresent == 65)
    #expect(!map.isComplete)
    let dir = TempDir("parts")
    let path = dir.path + "/x.partial.parts"
    try map.text.write(toFile: path, atomically: true, encoding: .utf8)
    #expect(PartMap.read(path, size: 100, source: "s") == map)
    #expect(PartMap.read(path, size: 101, source: "s") == nil, "another size is another file")
    #expect(PartMap.read(path, size: 100, source: "t") == nil, "another source's bytes are not these")
    try "garbage".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(PartMap.read(path, size: 100, source: "s") == nil)
  }

  @Test func readsCivitaisJSON() throws {
    let text = #"""
      {"id": 128713, "files": [{"name": "vae.pt", "primary": false, "sizeKB": 1.5, "hashes": {}},
        {"name": "m.safetensors", "primary": true, "sizeKB": 2082642.62, "downloadUrl": "https://c/api/download/models/128713",
         "hashes": {"SHA256": "879DB523C30D3B9017143D56705015E15A2CB5628762C11D086FED9538ABD7FD"}, "note": "caf\u00e9 \ud83d\ude00"}]}
      """#
    let json = try #require(JSON.parse(Array(text.utf8)))
    let files = json["files"]?.array ?? []
    #expect(files.count == 2)
    #expect(files[1]["hashes"]?["SHA256"]?.string?.hasPrefix("879DB5") == true)
    #expect(files[1]["sizeKB"]?.number == 2082642.62)
    #expect(files[1]["note"]?.string == "café 😀")
    #expect(files[0]["primary"]?.bool == false)
    for bad in [
      "", "{", "[1,]", "{\"a\" 1}", "nul", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ] {
      #expect(JSON.parse(Array(bad.utf8)) == nil, "\(bad.prefix(10))")
    }
  }

  @Test func honoursTheHubsRateLimitHeaderAndRetryAfter() {
    #expect(SourceResolver.serverDelay(rateLimit: "\"api\";r=0;t=55", retryAfter: "5") == 56)
    #expect(SourceResolver.serverDelay(rateLimit: nil, retryAfter: " 7 ") == 7)
    #expect(SourceResolver.serverDelay(rateLimit: "junk", retryAfter: "soon") == nil)
    #expect(SourceResolver.bareETag("W/\"ABC\"") == "abc")
  }

  @Test func theHeadlineShowsDoneOverTotalInOneUnit() {
    #expect(formatPair(12_300_000_000, of: 29_400_000_000) == "12.30/29.40 GB")
    #expect(formatPair(5_000_000, of: 240_000_000) == "5.0/240.0 MB")
    #expect(formatPair(7, of: 900) == "7/900 B")
  }
}
