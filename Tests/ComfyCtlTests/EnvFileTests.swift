// The .env writer: in-place updates, no duplicate keys, comments and unrelated keys kept, values
// quoted so Compose reads them back unchanged.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct EnvFileTests {
  static let hash = "$2b$12$abcdefghijklmnopqrstuuJ0rBw7y2Ti9k7Nfp0f4cJY2I.1yr0yq"

  @Test func roundTripKeepsEveryByte() {
    let text = """
      # settings
      COMFYUI_HOST_PORT=8188

      export PATH_LIKE=/a:/b   # trailing comment
      QUOTED='it''s'
      DOUBLE="a \\"b\\" \\$c"
      MULTI="line one
      line two"
      not an assignment
      EMPTY=
      SPACED = value with spaces

      """
    let env = EnvFile(text: text)
    #expect(env.text == text)
    #expect(env.value("COMFYUI_HOST_PORT") == "8188")
    #expect(env.value("PATH_LIKE") == "/a:/b")
    #expect(env.value("DOUBLE") == "a \"b\" $c")
    #expect(env.value("MULTI") == "line one\nline two")
    #expect(env.value("EMPTY") == "")
    #expect(env.value("SPACED") == "value with spaces")
    #expect(env.keys.contains("not") == false)
  }

  @Test func setUpdatesInPlaceAndKeepsCommentsAndOtherKeys() {
    var env = EnvFile(text: "# head\nA=1\n# about B\nB=2\nC=3\n")
    env.set("B", "new")
    #expect(env.text == "# head\nA=1\n# about B\nB='new'\nC=3\n")
    env.set("D", "4")
    #expect(env.text.hasSuffix("C=3\nD='4'\n"))
  }

  @Test func setNeverDuplicatesAKey() {
    var env = EnvFile(text: "TOKEN=old\nX=1\nTOKEN=older\nexport TOKEN=oldest\n")
    #expect(env.duplicateKeys == ["TOKEN"])
    #expect(env.value("TOKEN") == "oldest")  // Compose: the last assignment wins
    env.set("TOKEN", "fresh")
    #expect(env.text == "TOKEN='fresh'\nX=1\n")
    #expect(env.duplicateKeys.isEmpty)
  }

  @Test func exportPrefixIsKept() {
    var env = EnvFile(text: "export A=1\n")
    env.set("A", "2")
    #expect(env.text == "export A='2'\n")
  }

  @Test func bcryptHashIsSingleQuotedSoComposeKeepsTheDollarSigns() {
    var env = EnvFile()
    env.set("COMFYUI_BEARER_TOKEN", EnvFileTests.hash)
    #expect(env.text == "COMFYUI_BEARER_TOKEN='\(EnvFileTests.hash)'\n")
    #expect(EnvFile(text: env.text).value("COMFYUI_BEARER_TOKEN") == EnvFileTests.hash)
  }

  @Test(arguments: ["plain", "it's", "a\"b", "$x and 'y'", "back\\slash'", "two\nlines", "", "#not a comment"])
  func quotingRoundTrips(_ value: String) {
    var env = EnvFile(text: "OTHER=1\n")
    env.set("K", value)
    let reread = EnvFile(text: env.text)
    #expect(reread.value("K") == value)
    #expect(reread.value("OTHER") == "1")
  }

  @Test func unquotedValuesDropInlineComments() {
    let env = EnvFile(text: "A=value # comment\nB=a#b\nC=#only\n")
    #expect(env.value("A") == "value")
    #expect(env.value("B") == "a#b")
    #expect(env.value("C") == "")
  }

  @Test func removeTakesOnlyThatKey() {
    var env = EnvFile(text: "# c\nA=1\nB=2\nA=3\n")
    env.remove("A")
    #expect(env.text == "# c\nB=2\n")
  }

  @Test func saveWritesThroughASymlinkAndKeepsTheMode() throws {
    let dir = CtlTempDir("envsave")
    dir.write("real.env", "A=1\n")
    chmod(dir.file("real.env"), 0o640)
    try FileManager.default.createSymbolicLink(atPath: dir.file("link.env"), withDestinationPath: "real.env")
    var env = try EnvFile.load(dir.file("link.env"))
    env.set("B", "2")
    try env.save(dir.file("link.env"))
    #expect(FileOps.isSymlink(dir.file("link.env")))
    #expect(dir.read("real.env") == "A=1\nB='2'\n")
    #expect(mode(of: dir.file("real.env")) == 0o640)
  }

  @Test func aNewFileIsPrivate() throws {
    let dir = CtlTempDir("envnew")
    var env = EnvFile()
    env.set("COMFYUI_API_TOKEN", EnvFileTests.hash)
    try env.save(dir.file(".env"))
    #expect(mode(of: dir.file(".env")) == 0o600)
  }

  @Test func savingASecretTightensTheModeButNeverLoosensIt() throws {
    let dir = CtlTempDir("envmode")
    for (name, before, secret, after) in [
      ("umask.env", 0o644, true, 0o600), ("readonly.env", 0o400, true, 0o400), ("plain.env", 0o664, false, 0o664),
    ] as [(String, mode_t, Bool, mode_t)] {
      dir.write(name, "A=1\n")
      chmod(dir.file(name), before)
      var env = try EnvFile.load(dir.file(name))
      env.set(secret ? "COMFYUI_BEARER_TOKEN" : "B", EnvFileTests.hash)
      try env.save(dir.file(name))
      #expect(mode(of: dir.file(name)) == after, "\(name)")
    }
  }

  @Test(.needs(.docker)) func composeReadsOurQuotingBackUnchanged() throws {
    // The real consumer: `docker compose config` must see the hash with its `$` signs intact.
    let dir = CtlTempDir("envcompose")
    var env = EnvFile()
    env.set("TOKEN", EnvFileTests.hash)
    env.set("QUOTE", "it's $HOME")
    try env.save(dir.file(".env"))
    dir.write(
      "compose.yml",
      "services:\n  x:\n    image: scratch\n    environment:\n      T: ${TOKEN}\n      Q: ${QUOTE}\n")
    let result = try runTool(
      [
        "/usr/bin/env", "docker", "compose", "--project-directory", dir.path, "-f", dir.file("compose.yml"), "config",
        "--format", "json",
      ])
    #expect(result.status == 0, "\(result.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let x = ((json?["services"] as? [String: Any])?["x"] as? [String: Any])?["environment"] as? [String: String]
    // `config` prints a literal `$` escaped as `$$`, as a compose file would need it.
    #expect(x?["T"]?.replacingOccurrences(of: "$$", with: "$") == EnvFileTests.hash)
    #expect(x?["Q"]?.replacingOccurrences(of: "$$", with: "$") == "it's $HOME")
  }
}
