// Issue 20: the model hosts' tokens are secrets like the password hash. `secrets hf-token` and
// `civitai-token` read one line from stdin (never argv) into .secrets/, 0600, owned by the container user;
// `up` and `secrets init` make empty files where no token was given (Compose needs every secret's file);
// `secrets check` covers them; `secrets k8s` prints them as a Secret; the compose file hands them to every
// instance as secret files through their *_TOKEN_FILE variables and never as a value.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct ModelTokenTests {
  @Test func parseTakesOneTrimmedLineAndRefusesTheRest() throws {
    #expect(try ModelTokens.parse("  hf_abcDEF123\n", for: .huggingFace) == "hf_abcDEF123")
    #expect(try ModelTokens.parse("hf_abc\r\n", for: .huggingFace) == "hf_abc")
    for bad in ["", "\n", "   \n\n", "hf_a\nhf_b\n", "Bearer hf_abc", "hf_a\tb"] {
      let error = #expect(throws: CtlError.self) { try ModelTokens.parse(bad, for: .civitai) }
      #expect(error?.code == .tokenInvalid, "\(bad.debugDescription)")
      #expect(error?.message.contains("\n") == false)
    }
  }

  @Test func saveAndCreateMissingWriteItPrivateAndOwnedByTheContainerUser() throws {
    let (dir, project) = makeProject("tok-save")
    let settings = Settings(project: project)
    let tokens = ModelTokens(project: project, settings: settings)
    #expect(try tokens.createMissing().map { ($0 as NSString).lastPathComponent } == ["hf_token", "civitai_token"])
    for token in ModelToken.allCases {
      #expect(mode(of: tokens.path(token)) == 0o600)
      #expect(dir.read(".secrets/" + token.key) == "")
      #expect(FileOps.status(tokens.path(token))?.uid == settings.uid)
      #expect(!tokens.isSet(token))
    }
    try tokens.save("hf_secret", for: .huggingFace)
    #expect(dir.read(".secrets/hf_token") == "hf_secret\n" && mode(of: tokens.path(.huggingFace)) == 0o600)
    #expect(tokens.isSet(.huggingFace))
    #expect(try tokens.value(.huggingFace) == "hf_secret")
    // createMissing never empties a token the user gave.
    #expect(try tokens.createMissing().isEmpty)
    #expect(dir.read(".secrets/hf_token") == "hf_secret\n")
    #expect(tokens.check().allSatisfy { $0.ok }, "\(tokens.check())")

    chmod(tokens.path(.huggingFace), 0o644)
    dir.write(".secrets/civitai_token", "one\ntwo\n")
    chmod(tokens.path(.civitai), 0o600)
    chown(tokens.path(.civitai), settings.uid, settings.gid)
    let drift = tokens.check().filter { !$0.ok }
    #expect(drift.map(\.place) == [".secrets/hf_token", ".secrets/civitai_token"], "\(drift)")
    #expect(drift[0].detail.contains("mode 0644, want 0600; chmod 600"))
    #expect(drift[1].detail.contains("2 lines"))
  }

  /// Absent is fine: no token. (An older deployment folder has no token files until its next `up`.)
  @Test func checkCallsAnAbsentTokenFine() {
    let (_, project) = makeProject("tok-absent")
    let items = ModelTokens(project: project, settings: Settings(project: project)).check()
    #expect(items.count == 2 && items.allSatisfy { $0.ok } && items.allSatisfy { $0.detail.hasPrefix("absent") })
  }

  /// Through the binary: stdin in, nothing of the token out, check and k8s covering it, --remove.
  @Test func theCommandsReadStdinAndNeverPrintTheToken() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("tok-cli")
    let secret = "hf_TopSecret0123456789"
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    #expect(dir.read(".secrets/hf_token") == "" && dir.read(".secrets/civitai_token") == "")
    let stored = try runTool([bin, "secrets", "hf-token", "--project-dir", dir.path], stdin: secret + "\n")
    #expect(stored.status == 0, "\(stored.all)")
    #expect(!stored.all.contains(secret) && stored.stdout.contains("the Hugging Face token is in .secrets/hf_token"))
    #expect(dir.read(".secrets/hf_token") == secret + "\n" && mode(of: project.secretsDir + "/hf_token") == 0o600)

    let check = try runTool([bin, "secrets", "check", "--project-dir", dir.path])
    #expect(check.status == 0, "\(check.all)")
    #expect(check.stdout.contains("ok    .secrets/hf_token: one line, mode 0600"), "\(check.stdout)")
    #expect(check.stdout.contains("ok    .secrets/civitai_token: empty: no token"), "\(check.stdout)")
    #expect(!check.all.contains(secret))

    let k8s = try runTool([bin, "secrets", "k8s", "--project-dir", dir.path])
    #expect(k8s.status == 0, "\(k8s.all)")
    let encoded = Data((secret + "\n").utf8).base64EncodedString()
    #expect(k8s.stdout.contains("\n---\n") && k8s.stdout.contains("  name: \(KubernetesSecret.tokensName)\n"))
    #expect(k8s.stdout.contains("  hf_token: \"\(encoded)\"\n") && k8s.stdout.contains("  civitai_token: \"\"\n"))
    #expect(!k8s.stdout.contains(secret))

    let removed = try runTool([bin, "secrets", "hf-token", "--remove", "--project-dir", dir.path])
    #expect(removed.status == 0 && dir.read(".secrets/hf_token") == "", "\(removed.all)")
    let twoLines = try runTool([bin, "secrets", "civitai-token", "--project-dir", dir.path], stdin: "a\nb\n")
    #expect(twoLines.status == CtlExitCode.tokenInvalid.rawValue && dir.read(".secrets/civitai_token") == "")
  }

  /// The compose file is the other place that spells the tokens' names: every instance mounts each
  /// token as a secret file from .secrets/ and points its *_TOKEN_FILE variable at it; no variable
  /// carries a token's value.
  @Test func theComposeFileHandsEveryInstanceTheTokensAsFiles() throws {
    let text = try String(contentsOfFile: CtlPaths.root + "/" + Project.composeFile, encoding: .utf8)
    for token in ModelToken.allCases {
      #expect(text.contains("  \(token.key):\n    file: ./.secrets/\(token.key)\n"), "\(token)")
      #expect(text.contains("    \(token.fileVariable): \(token.containerPath)\n"), "\(token)")
      #expect(text.contains("    - \(token.key)\n"), "\(token)")
    }
    for variable in ["HF_TOKEN:", "HF_API_TOKEN:", "CIVITAI_TOKEN:", "HUGGING_FACE_HUB_TOKEN:"] {
      #expect(!text.contains(variable), "\(variable) would put a token into the environment")
    }
  }
}
