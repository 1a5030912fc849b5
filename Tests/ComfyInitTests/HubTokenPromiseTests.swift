// README's Hugging Face token promises against the local HTTPS server (its request log says which
// token arrived): HF_TOKEN, HF_TOKEN_FILE, HF_API_TOKEN, the first one set wins; an unusable one stops
// a start only when a download needs it. And a second model with the wrong checksum goes to
// `.mismatch-2`, the first one kept.
import Foundation
import Testing

@Suite(.serialized) struct HubTokenPromiseTests {
  /// Which variable's token reached the server, for each combination: the first one set wins (an
  /// empty one is not set), and a later one that could not be used does not matter.
  @Test func theFirstTokenVariableSetWins() throws {
    let data = modelBytes(50_000, seed: 21)
    let server = try ModelServer(files: ["t.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("t.bin", query: "auth=1")) checkpoints/t.bin \(sha256Hex(data))"])
    let good = ModelServer.token
    let goodFile = home.dir.path + "/good-token"
    let wrongFile = home.dir.path + "/wrong-token"
    try (good + "\n").write(toFile: goodFile, atomically: true, encoding: .utf8)
    try "wrong-from-file\n".write(toFile: wrongFile, atomically: true, encoding: .utf8)
    let cases: [(String, [String: String])] = [
      (
        "HF_TOKEN over HF_TOKEN_FILE and HF_API_TOKEN",
        ["HF_TOKEN": good, "HF_TOKEN_FILE": wrongFile, "HF_API_TOKEN": "wrong"]
      ),
      ("HF_TOKEN over an unreadable HF_TOKEN_FILE", ["HF_TOKEN": good, "HF_TOKEN_FILE": "/nonexistent/token"]),
      ("HF_TOKEN_FILE over HF_API_TOKEN", ["HF_TOKEN_FILE": goodFile, "HF_API_TOKEN": "wrong"]),
      ("an empty HF_TOKEN is not set", ["HF_TOKEN": "", "HF_TOKEN_FILE": goodFile, "HF_API_TOKEN": "wrong"]),
      ("HF_API_TOKEN alone", ["HF_TOKEN": "", "HF_API_TOKEN": good]),
    ]
    for (index, (name, tokens)) in cases.enumerated() {
      try? FileManager.default.removeItem(atPath: home.models + "/checkpoints/t.bin")
      let result = try home.provision(tokens.merging(["COMFYUI_TOKEN_HOSTS": "127.0.0.1"]) { $1 })
      #expect(result.status == 0, "\(name): \(result.stderr)")
      let request = server.requests(atLeast: index + 1).last
      #expect(request?.auth == "Bearer " + good, "\(name): the server got \(request?.auth ?? "no token")")
      #expect(home.contents("checkpoints/t.bin") == data, "\(name)")
    }
  }

  /// A token that cannot be used (a file that cannot be read, a value of two lines) is named only when
  /// a download needs it: with every model in place the start goes on (exit 0); with one to fetch it
  /// stops with exit 20 and the fix, before any request.
  @Test(arguments: [
    (
      "HF_TOKEN_FILE", "/nonexistent/hf-token",
      "HF_TOKEN_FILE=/nonexistent/hf-token cannot be read; mount the token file there"
    ),
    ("HF_TOKEN", "hf_one\nhf_two", "HF_TOKEN must hold one token on one line; fix its value"),
  ])
  func anUnusableTokenStopsAStartOnlyWhenADownloadNeedsIt(variable: String, value: String, says: String) throws {
    let data = modelBytes(50_000, seed: 22)
    let server = try ModelServer(files: ["u.bin": data])
    let home = try ProvisionHome()
    try home.writeManifest(["\(server.url("u.bin")) vae/u.bin \(sha256Hex(data))"])
    let env = [variable: value, "COMFYUI_TOKEN_HOSTS": "127.0.0.1"]

    let needed = try home.provision(env)
    #expect(needed.status == 20, "\(needed.stderr)")
    #expect(needed.stderr.contains(says), "\(needed.stderr)")
    #expect(!home.exists("vae/u.bin"))
    #expect(server.requests().isEmpty, "a request went out with an unusable token")

    // The model is in place (a volume that has it): nothing to download, the token is not needed.
    try FileManager.default.createDirectory(atPath: home.models + "/vae", withIntermediateDirectories: true)
    try Data(data).write(to: URL(fileURLWithPath: home.models + "/vae/u.bin"))
    let inPlace = try home.provision(env)
    #expect(inPlace.status == 0, "\(inPlace.stderr)")
    #expect(inPlace.stderr.contains("all 1 in place, nothing to download"), "\(inPlace.stderr)")
    #expect(!inPlace.stderr.contains(says), "\(inPlace.stderr)")
  }

  /// Nothing is deleted: a file with the wrong checksum goes to `NAME.mismatch-1`, and when that name
  /// is taken (an earlier mismatch) to `NAME.mismatch-2`; the earlier one stays as it was.
  @Test func aSecondMismatchGoesToMismatch2() throws {
    let data = modelBytes(50_000, seed: 23)
    let server = try ModelServer(files: ["m.bin": data])
    let home = try ProvisionHome()
    let dir = home.models + "/loras"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data("the first wrong file".utf8).write(to: URL(fileURLWithPath: dir + "/m.bin.mismatch-1"))
    try Data("the second wrong file".utf8).write(to: URL(fileURLWithPath: dir + "/m.bin"))
    try home.writeManifest(["\(server.url("m.bin")) loras/m.bin \(sha256Hex(data))"])
    let result = try home.provision()
    #expect(result.status == 0, "\(result.stderr)")
    #expect(home.contents("loras/m.bin") == data)
    #expect(home.contents("loras/m.bin.mismatch-1") == Array("the first wrong file".utf8))
    #expect(home.contents("loras/m.bin.mismatch-2") == Array("the second wrong file".utf8))
    #expect(result.stderr.contains("m.bin.mismatch-2"), "\(result.stderr)")
  }
}
