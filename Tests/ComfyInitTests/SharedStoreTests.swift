// Models at scale against a real HTTPS server (Tests/Fixtures/https-server): many ranged connections
// per file and what a SIGKILL leaves of them, one shared store for several instances (one download,
// a dead holder taken over, the same content linked), stamps on the volume, the lock file, and the
// `models lock|verify` commands. The Hub's and CivitAI's own answers are in HubProvisioningTests.
import Foundation
import Testing

/// Small pieces so that a few megabytes make many of them.
private let manyConnections = ["COMFYUI_DOWNLOAD_CONNECTIONS": "4", "COMFYUI_DOWNLOAD_PIECE_MB": "1"]

/// The ranges a GET asked for, as (start, end).
private func span(_ request: ServedRequest) -> (Int, Int)? {
  guard let range = request.range, range.hasPrefix("bytes=") else { return nil }
  let parts = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
  guard parts.count == 2, let start = Int(parts[0]) else { return nil }
  return (start, Int(parts[1]) ?? Int.max)
}

@Suite struct SharedStoreTests {
  @Test func aLargeFileComesOverSeveralRangedConnectionsAtOnce() throws {
    let data = modelBytes(6_000_000, seed: 40)
    let server = try ModelServer(files: ["big.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("big.bin", query: "rate=2000000")) checkpoints/big.bin \(sha256Hex(data))"])
    let result = try home.provision(manyConnections)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("checkpoints/big.bin") == data)
    #expect(!home.exists("checkpoints/big.bin.partial") && !home.exists("checkpoints/big.bin.partial.parts"))
    let gets = server.requests(atLeast: 7)
    // The one-byte probe, then six 1 MiB pieces (the last one shorter), each exactly its range.
    #expect(gets.first?.range == "bytes=0-0")
    let pieces = gets.dropFirst().compactMap(span).sorted { $0.0 < $1.0 }
    #expect(pieces.map(\.0) == [0, 1, 2, 3, 4, 5].map { $0 << 20 }, "\(pieces)")
    #expect(gets.dropFirst().reduce(0) { $0 + $1.bytes } == data.count, "every byte fetched once")
    // At 2 MB/s per connection, four at once: at least two pieces overlap in time.
    let overlapping = gets.dropFirst().contains { a in
      gets.dropFirst().contains { b in a.start < b.start && b.start < a.end }
    }
    #expect(overlapping, "pieces run in parallel")
  }

  @Test func aSIGKILLDuringAManyConnectionDownloadKeepsFinishedPieces() throws {
    let data = modelBytes(8_000_000, seed: 41)
    let server = try ModelServer(files: ["k.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("k.bin", query: "rate=1000000")) unet/k.bin \(sha256Hex(data))"])
    let first = try home.provisionInBackground(manyConnections)
    let parts = home.models + "/unet/k.bin.partial.parts"
    // Wait until the map says at least two pieces are whole, then kill without warning.
    func whole() -> [Int] {
      let text = (try? String(contentsOfFile: parts, encoding: .utf8)) ?? ""
      guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("done ") }) else { return [] }
      let done = line.split(separator: " ").dropFirst().compactMap { Int($0) }
      return done.indices.filter { done[$0] >= min(1 << 20, data.count - ($0 << 20)) }
    }
    #expect(pollUntil(20) { whole().count >= 2 })
    first.signal(SIGKILL)
    _ = first.wait(timeout: 10)
    let finished = whole()
    let before = server.requests().count
    try #require(finished.count >= 2, "the map after the kill: \(finished)")

    let second = try home.provision(manyConnections)
    #expect(second.status == 0, "\(second.stderr)")
    #expect(home.contents("unet/k.bin") == data)
    #expect(second.stderr.contains("resuming with"), "\(second.stderr)")
    // The pieces asked again (the one-byte probe that finds the URL is not one).
    let again = server.requests().dropFirst(before).filter { $0.range != "bytes=0-0" }.compactMap(span)
    for piece in finished {
      #expect(!again.contains { $0.0 == piece << 20 }, "piece \(piece) was whole and is not fetched again")
    }
  }

  @Test func aServerWithoutRangesGetsOneConnection() throws {
    let data = modelBytes(4_000_000, seed: 42)
    let server = try ModelServer(files: ["n.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("n.bin", query: "norange=1")) vae/n.bin \(sha256Hex(data))"])
    let result = try home.provision(manyConnections)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("vae/n.bin") == data)
    #expect(result.stderr.contains("does not serve ranges; one connection"), "\(result.stderr)")
    #expect(server.requests(atLeast: 2).filter { $0.status == 200 && $0.bytes == data.count }.count == 1)
  }

  @Test func twoInstancesOnOneStoreDownloadOnce() throws {
    let data = modelBytes(3_000_000, seed: 43)
    let server = try ModelServer(files: ["s.bin": data])
    let store = TempDir("store")
    let a = try ProvisionHome(sharing: store.path)
    let b = try ProvisionHome(sharing: store.path)
    let line = "\(server.url("s.bin", query: "rate=1500000")) checkpoints/s.bin \(sha256Hex(data))"
    try a.writeManifest([line])
    try b.writeManifest([line])
    let first = try a.provisionInBackground()
    #expect(pollUntil(10) { a.size("checkpoints/s.bin.partial") > 0 })
    let second = try b.provision()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(second.stderr.contains("is downloading checkpoints/s.bin; waiting for it"), "\(second.stderr)")
    #expect(first.wait(timeout: 20)?.status == 0, "\(first.log)")
    #expect(b.contents("checkpoints/s.bin") == data)
    #expect(server.requests().reduce(0) { $0 + $1.bytes } == data.count, "downloaded once")
  }

  @Test func aHolderKilledMidDownloadIsTakenOverAtOnce() throws {
    let data = modelBytes(3_000_000, seed: 44)
    let server = try ModelServer(files: ["d.bin": data])
    let store = TempDir("store")
    let a = try ProvisionHome(sharing: store.path)
    let b = try ProvisionHome(sharing: store.path)
    let line = "\(server.url("d.bin", query: "rate=1000000")) loras/d.bin \(sha256Hex(data))"
    try a.writeManifest([line])
    try b.writeManifest([line])
    let first = try a.provisionInBackground()
    #expect(pollUntil(10) { a.size("loras/d.bin.partial") >= 500_000 })
    first.signal(SIGKILL)
    _ = first.wait(timeout: 10)
    let started = Date()
    let second = try b.provision()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stderr.contains("waiting for it"), "a dead holder on this kernel holds nothing")
    #expect(Date().timeIntervalSince(started) < 15)
    #expect(second.stderr.contains("resuming at"), "the other instance's bytes are kept")
    #expect(b.contents("loras/d.bin") == data)
  }

  @Test func aHeartbeatFromAnotherNodeIsRespectedUntilItGoesSilent() throws {
    let data = modelBytes(200_000, seed: 45)
    let server = try ModelServer(files: ["h.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("h.bin")) vae/h.bin \(sha256Hex(data))"])
    // A holder on another machine of an NFS share mounted with local locks: no flock to see, only
    // its heartbeat line (boot id, pid, host, time), written a moment ago.
    let locks = home.models + "/.comfy-init/locks"
    try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
    let lockFile = locks + "/" + sha256Hex(Array("vae/h.bin".utf8)) + ".lock"
    try "00000000-other-boot 4242 gpu-node-7 \(Int(Date().timeIntervalSince1970))\n".write(
      toFile: lockFile, atomically: false, encoding: .utf8)
    let run = try home.provisionInBackground()
    #expect(
      pollUntil(10) { run.log.contains("comfy-init pid 4242 on gpu-node-7 on another node is downloading vae/h.bin") })
    #expect(run.isRunning && !home.exists("vae/h.bin"))
    // It went silent more than a minute ago: taken over.
    let old = Date().addingTimeInterval(-120)
    try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: lockFile)
    #expect(run.wait(timeout: 20)?.status == 0, "\(run.log)")
    #expect(run.log.contains("taking over the download from comfy-init pid 4242 on gpu-node-7"), "\(run.log)")
    #expect(home.contents("vae/h.bin") == data)
  }

  @Test func theSameContentIsStoredOnceAndLinked() throws {
    let data = modelBytes(500_000, seed: 46)
    let server = try ModelServer(files: ["t5.bin": data])
    let store = TempDir("store")
    let flux = try ProvisionHome(sharing: store.path)
    try flux.writeManifest([
      "\(server.url("t5.bin")) text_encoders/t5xxl.safetensors \(sha256Hex(data))",
      "\(server.url("t5.bin")) clip/t5xxl.safetensors \(sha256Hex(data))",
    ])
    let first = try flux.provision()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(server.requests().count == 1, "one download for two places")
    #expect(flux.inode("text_encoders/t5xxl.safetensors") == flux.inode("clip/t5xxl.safetensors"))

    // Another family on the same store wants the same bytes elsewhere: linked, nothing fetched.
    let sd35 = try ProvisionHome(sharing: store.path)
    try sd35.writeManifest(["\(server.url("t5.bin")) text_encoders/sd35/t5xxl_fp16.safetensors \(sha256Hex(data))"])
    let second = try sd35.provision()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(second.stderr.contains("hard-linked, nothing downloaded"), "\(second.stderr)")
    #expect(server.requests().count == 1)
    #expect(sd35.inode("text_encoders/sd35/t5xxl_fp16.safetensors") == flux.inode("clip/t5xxl.safetensors"))
  }

  @Test func stampsOnTheVolumeSpareANewContainerEveryReHash() throws {
    let data = modelBytes(800_000, seed: 47)
    let server = try ModelServer(files: ["m.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("m.bin")) checkpoints/m.bin \(sha256Hex(data))"])
    let first = try home.provision(["COMFYUI_STATE_DIR": TempDir("state-a").path])
    #expect(first.status == 0, "\(first.stderr)")
    // A new container: a fresh state folder (the image's tmpfs), the same models volume.
    let second = try home.provision(["COMFYUI_STATE_DIR": TempDir("state-b").path])
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stderr.contains("checking its sha256"), "no re-hash: \(second.stderr)")
    #expect(second.stderr.contains("all 1 in place"))
    #expect(server.allRequests().count == 2, "the first start's HEAD and GET; the second asks nothing")

    // The upgrade: a stamp where older versions kept it (the state folder, keyed by the path).
    let state = TempDir("state-c")
    try FileManager.default.removeItem(atPath: home.models + "/.comfy-init/verified")
    let path = home.models + "/checkpoints/m.bin"
    var st = stat()
    stat(path, &st)
    try FileManager.default.createDirectory(atPath: state.path + "/models", withIntermediateDirectories: true)
    try "\(path) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ino) \(sha256Hex(data))\n".write(
      toFile: state.path + "/models/" + sha256Hex(Array(path.utf8)), atomically: true, encoding: .utf8)
    let upgraded = try home.provision(["COMFYUI_STATE_DIR": state.path])
    #expect(upgraded.status == 0 && !upgraded.stderr.contains("checking its sha256"), "\(upgraded.stderr)")
    #expect(FileManager.default.fileExists(atPath: home.models + "/.comfy-init/verified"), "taken over onto the volume")
  }

  @Test func theFirstDownloadIsLockedAndAChangedFileUpstreamIsRefused() throws {
    let data = modelBytes(300_000, seed: 48)
    let server = try ModelServer(files: ["l.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("l.bin")) vae/l.bin -"])
    let first = try home.provision()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(
      home.lockFile.contains("file vae/l.bin 300000 \(sha256Hex(data)) \(server.url("l.bin"))"), "\(home.lockFile)")

    // Upstream swaps the file; the copy here is lost: the lock's hash decides, nothing is placed.
    let changed = modelBytes(300_000, seed: 49)
    try Data(changed).write(to: URL(fileURLWithPath: server.dir.path + "/files/l.bin"))
    try FileManager.default.removeItem(atPath: home.models + "/vae/l.bin")
    let second = try home.provision()
    #expect(second.status == 20)
    #expect(
      second.stderr.contains("vae/l.bin arrived with sha256 \(sha256Hex(changed)), expected \(sha256Hex(data))"),
      "\(second.stderr)")
    #expect(!home.exists("vae/l.bin") && home.exists("vae/l.bin.mismatch-1"))
  }

  @Test func modelsVerifyAndLockSayWhatIsOnDiskAndPinIt() throws {
    let a = modelBytes(200_000, seed: 50)
    let b = modelBytes(100_000, seed: 51)
    let server = try ModelServer(files: ["a.bin": a, "b.bin": b])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("a.bin")) vae/a.bin \(sha256Hex(a))", "\(server.url("b.bin")) vae/b.bin -"])
    #expect(try home.provision().status == 0)
    let lock = try runProcess([Paths.comfyInit, "models", "lock", home.manifest], environment: home.environment())
    #expect(lock.status == 0, "\(lock.stderr)")
    #expect(
      lock.stdout.contains("\(server.url("b.bin")) vae/b.bin \(sha256Hex(b))"), "the '-' filled in: \(lock.stdout)")

    let fine = try runProcess([Paths.comfyInit, "models", "verify"], environment: home.environment())
    #expect(fine.status == 0 && fine.stdout.contains("ok         vae/a.bin"), "\(fine.stdout)\(fine.stderr)")
    // Same size, same mtime, one byte different: only a real hash sees it.
    let path = home.models + "/vae/b.bin"
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    handle.seek(toFileOffset: 10)
    handle.write(Data([b[10] ^ 0xff]))
    handle.closeFile()
    try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: path)
    let wrong = try runProcess([Paths.comfyInit, "models", "verify"], environment: home.environment())
    #expect(wrong.status == 20)
    #expect(wrong.stdout.contains("WRONG      vae/b.bin"), "\(wrong.stdout)")
    #expect(wrong.stderr.contains("1 of 2 model file(s) missing or wrong"), "\(wrong.stderr)")
  }

  @Test func garbageOrPlantedLinksOnTheVolumeAreRefusedOrRebuiltNeverFollowed() throws {
    let data = modelBytes(200_000, seed: 52)
    let server = try ModelServer(files: ["g.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("g.bin")) vae/g.bin \(sha256Hex(data))"])
    let state = home.models + "/.comfy-init"
    try FileManager.default.createDirectory(atPath: state + "/locks", withIntermediateDirectories: true)
    // Garbage where the lock file belongs: a warning, then it is rewritten.
    try "file vae/g.bin lots of garbage\n\u{0}\u{1}\n".write(
      toFile: state + "/models.lock", atomically: true, encoding: .utf8)
    // A link where this DEST's download lock belongs, to a file that must not be touched.
    let outside = TempDir("victim")
    let victim = outside.path + "/precious"
    try "keep me".write(toFile: victim, atomically: true, encoding: .utf8)
    let lockFile = state + "/locks/" + sha256Hex(Array("vae/g.bin".utf8)) + ".lock"
    try FileManager.default.createSymbolicLink(atPath: lockFile, withDestinationPath: victim)
    let refused = try home.provision()
    #expect(refused.status == 20)
    #expect(
      refused.stderr.contains("cannot open \(lockFile)") && refused.stderr.contains("move it away"), "\(refused.stderr)"
    )
    #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me", "the link was not followed")
    #expect(server.requests().isEmpty)

    try FileManager.default.removeItem(atPath: lockFile)
    let fixed = try home.provision()
    #expect(fixed.status == 0, "\(fixed.stderr)")
    #expect(fixed.stderr.contains("models.lock: 2 line(s) do not parse and are ignored"), "\(fixed.stderr)")
    #expect(home.lockFile.contains("file vae/g.bin 200000 \(sha256Hex(data))"), "\(home.lockFile)")
    #expect(home.contents("vae/g.bin") == data)
  }
}
