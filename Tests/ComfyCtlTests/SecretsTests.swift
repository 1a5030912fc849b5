// The secrets store and its derived files: init, rotate, drift checks, reset, log redaction.
import Bcrypt
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct SecretsTests {
  @Test func initCreatesThePrivateSourceAndEveryDerivedFile() throws {
    let (dir, project) = makeProject("sec-init")
    _ = dir
    let credential = try initializeSecrets(project: project, console: Console(isTerminal: false))
    #expect(credential.username == "admin")
    #expect(credential.password.count >= 24)
    #expect(Bcrypt.verify(password: credential.password, hash: credential.hash))
    #expect(mode(of: project.secretsDir) == 0o700)
    #expect(mode(of: project.storeFile) == 0o600)
    #expect(mode(of: project.hashFile) == 0o600)
    #expect(try String(contentsOfFile: project.hashFile, encoding: .utf8) == credential.hash + "\n")
    let settings = Settings(project: project)
    #expect(FileOps.status(project.hashFile)?.uid == settings.uid)  // the container user reads the bind mount
    let env = try EnvFile.load(project.envFile)
    #expect(env.value("COMFYUI_BEARER_TOKEN") == credential.hash)
    #expect(env.value("COMFYUI_API_TOKEN") == credential.hash)
    #expect(env.value("COMFYUI_PROJECT_NAME") != nil)  // unrelated keys stay
    #expect(try String(contentsOfFile: project.envFile, encoding: .utf8).contains("COMFYUI_API_TOKEN='$2b$12$"))
    #expect(try SecretsStore(project: project).load() == credential)
  }

  @Test func initNeverRotatesButRepairsDrift() throws {
    let (dir, project) = makeProject("sec-again")
    _ = dir
    let console = Console(isTerminal: false)
    let first = try initializeSecrets(project: project, console: console)
    var env = try EnvFile.load(project.envFile)
    env.set("COMFYUI_API_TOKEN", "stale")
    env.appendText(["COMFYUI_BEARER_TOKEN=$2b$12$unquoted"])
    try env.save(project.envFile)
    unlink(project.hashFile)
    let derived = DerivedSecrets(project: project, settings: Settings(project: project))
    let drift = derived.check(first).filter { !$0.ok }.map(\.place)
    #expect(drift.contains(".env COMFYUI_API_TOKEN"))
    #expect(drift.contains(".env COMFYUI_BEARER_TOKEN"))
    #expect(drift.contains(".secrets/comfyui_password_hash"))

    let second = try initializeSecrets(project: project, console: console)
    #expect(second == first)
    #expect(derived.check(first).allSatisfy { $0.ok })
    #expect(try EnvFile.load(project.envFile).duplicateKeys.isEmpty)
  }

  @Test func initReadsAPasswordFromStdinOnlyWhenAsked() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-stdin")
    let result = try runTool(
      [bin, "secrets", "init", "--password-stdin", "--username", "alice", "--project-dir", dir.path],
      stdin: "correct horse battery\n")
    #expect(result.status == 0, "\(result.all)")
    let credential = try SecretsStore(project: project).load()
    #expect(credential.password == "correct horse battery")
    #expect(credential.username == "alice")
    #expect(!result.all.contains("correct horse"))
    #expect(!result.all.contains(credential.hash))
    let (other, _) = makeProject("sec-short")
    let short = try runTool(
      [bin, "secrets", "init", "--password-stdin", "--project-dir", other.path], stdin: "short\n")
    #expect(short.status == CtlExitCode.badInput.rawValue)
    #expect(short.stderr.split(separator: "\n").count == 1)
  }

  @Test func rotateMakesANewCredentialAndRefreshesEverything() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-rotate")
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    let before = try SecretsStore(project: project).load()
    let rotate = try runTool([bin, "secrets", "rotate", "--project-dir", dir.path])
    #expect(rotate.status == 0, "\(rotate.all)")
    #expect(rotate.stdout.contains("not running"))
    let after = try SecretsStore(project: project).load()
    #expect(after.hash != before.hash)
    #expect(after.password != before.password)
    #expect(after.username == before.username)
    #expect(try runTool([bin, "secrets", "check", "--project-dir", dir.path]).status == 0)
    let token = try runTool([bin, "secrets", "show", "--token", "--project-dir", dir.path])
    #expect(token.stdout == after.hash + "\n")
  }

  /// `--password` prints only the password (for the /login form); the plain `show` never prints it,
  /// and says how to get it.
  @Test func showPrintsThePasswordOnlyWhenAsked() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-show")
    #expect(try runTool([bin, "secrets", "init", "--username", "alice", "--project-dir", dir.path]).status == 0)
    let credential = try SecretsStore(project: project).load()
    let password = try runTool([bin, "secrets", "show", "--password", "--project-dir", dir.path])
    #expect(password.status == 0, "\(password.all)")
    #expect(password.stdout == credential.password + "\n" && password.stderr.isEmpty)
    let plain = try runTool([bin, "secrets", "show", "--project-dir", dir.path])
    #expect(plain.status == 0, "\(plain.all)")
    #expect(plain.stdout.hasPrefix("username: alice\ntoken:    \(credential.hash)\n"), "\(plain.stdout)")
    #expect(plain.stdout.contains("the login password: comfyctl secrets show --password"))
    #expect(!plain.all.contains(credential.password))
  }

  @Test func checkListsDriftAndExitsOne() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-check")
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    var env = try EnvFile.load(project.envFile)
    env.set("COMFYUI_BEARER_TOKEN", "$2b$12$" + String(repeating: "x", count: 53))
    try env.save(project.envFile)
    chmod(project.storeFile, 0o644)
    let check = try runTool([bin, "secrets", "check", "--project-dir", dir.path])
    #expect(check.status == CtlExitCode.checkFailed.rawValue)
    #expect(check.stdout.contains("DRIFT .env COMFYUI_BEARER_TOKEN"))
    #expect(check.stdout.contains("DRIFT .secrets/comfyui_auth_tokens.conf: mode 0644"))
    #expect(check.stdout.contains("ok    .env COMFYUI_API_TOKEN"))
  }

  /// A .env made with umask 022 is 0644: once comfyctl writes the token into it, it is 0600; and
  /// `secrets check` fails on any token file others can read, naming the fix.
  @Test func aDotEnvHoldingTheTokenEndsPrivate() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-umask")
    chmod(project.envFile, 0o644)
    let initRun = try runTool([bin, "secrets", "init", "--project-dir", dir.path])
    #expect(initRun.status == 0, "\(initRun.all)")
    #expect(mode(of: project.envFile) == 0o600)
    #expect(try EnvFile.load(project.envFile).value("COMFYUI_PROJECT_NAME") != nil)  // the user's keys stay

    chmod(project.envFile, 0o644)
    let check = try runTool([bin, "secrets", "check", "--project-dir", dir.path])
    #expect(check.status == CtlExitCode.checkFailed.rawValue)
    #expect(
      check.stdout.contains("DRIFT .env mode: mode 0644: group or others can read it; chmod 600 \(project.envFile)"),
      "\(check.stdout)")
    chmod(project.envFile, 0o600)
    let fixed = try runTool([bin, "secrets", "check", "--project-dir", dir.path])
    #expect(fixed.status == 0, "\(fixed.all)")
    #expect(fixed.stdout.contains("ok    .env mode: mode 0600"))

    // Every `up` refreshes the derived files the same way: a loosened .env is made private again.
    chmod(project.envFile, 0o644)
    let again = try runTool([bin, "secrets", "init", "--project-dir", dir.path])
    #expect(again.stdout.contains("secrets: refreshed .env"), "\(again.all)")
    #expect(mode(of: project.envFile) == 0o600)
  }

  /// `secrets k8s`: the Secret the manifests mount, holding the hash file's bytes and never the password;
  /// names Kubernetes would refuse are refused before anything is printed.
  @Test func k8sPrintsTheHashAsASecretNeverThePassword() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("sec-k8s")
    #expect(try runTool([bin, "secrets", "init", "--username", "alice", "--project-dir", dir.path]).status == 0)
    let credential = try SecretsStore(project: project).load()
    let printed = try runTool([bin, "secrets", "k8s", "--project-dir", dir.path])
    #expect(printed.status == 0, "\(printed.all)")
    #expect(!printed.all.contains(credential.password))
    let lines = printed.stdout.split(separator: "\n").map(String.init)
    #expect(lines.contains("kind: Secret") && lines.contains("  name: comfyui-password-hash"))
    #expect(lines.contains("  namespace: comfyui"))
    #expect(lines.contains { $0.contains("COMFYUI_USERNAME") && $0.contains("'alice'") })
    let data = try #require(lines.first { $0.hasPrefix("  comfyui_password_hash: ") })
    let encoded = String(data.dropFirst("  comfyui_password_hash: ".count))
    let decoded = try #require(Data(base64Encoded: encoded))
    #expect(decoded == (try Data(contentsOf: URL(fileURLWithPath: project.hashFile))))

    let named = try runTool([
      bin, "secrets", "k8s", "--name", "hash2", "--namespace", "studio", "--project-dir", dir.path,
    ])
    #expect(named.stdout.contains("  name: hash2\n  namespace: studio\n"), "\(named.all)")
    for bad in [["--name", "Comfy_Hash"], ["--namespace", "a.b"], ["--name=-x"]] {
      let refused = try runTool([bin, "secrets", "k8s"] + bad + ["--project-dir", dir.path])
      #expect(refused.status == CtlExitCode.badInput.rawValue, "\(bad): \(refused.all)")
      #expect(refused.stdout.isEmpty && refused.stderr.contains("is not a Kubernetes name"))
    }
  }

  @Test func commandsWithoutSecretsSayHowToCreateThem() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, _) = makeProject("sec-none")
    let show = try runTool([bin, "secrets", "show", "--project-dir", dir.path])
    #expect(show.status == CtlExitCode.secretsMissing.rawValue)
    #expect(show.stderr.contains("comfyctl secrets init"))
    let elsewhere = CtlTempDir("noproject")
    let lost = try runTool([bin, "secrets", "show"], directory: elsewhere.path)
    #expect(lost.status == CtlExitCode.projectNotFound.rawValue)
  }

  @Test func aMalformedStoreIsReportedNotReplaced() throws {
    let (dir, project) = makeProject("sec-bad")
    try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
    dir.write(".secrets/comfyui_auth_tokens.conf", "COMFYUI_USERNAME='admin'\n")
    let error = #expect(throws: CtlError.self) { try SecretsStore(project: project).load() }
    #expect(error?.code == .secretsInvalid)
    #expect(dir.read(".secrets/comfyui_auth_tokens.conf") == "COMFYUI_USERNAME='admin'\n")
  }

  @Test func logsLoseEveryBcryptHashAndThePassword() {
    let line =
      "For direct API calls, use token=$2b$12$R4N8l47Fbk5zXpndnvMUiuIzd4TV1CWCYxp/cWdltNiijwfzgVqmm pw=hunter22"
    let redacted = LogRedactor.redact(line, password: "hunter22")
    #expect(redacted == "For direct API calls, use token=[redacted] pw=[redacted]")
  }

  /// The check runs after the engine and binary checks, so the project has a dist/comfy-init and the
  /// engine must answer; nothing is built: the argument is refused first.
  @Test(.needs(.docker)) func buildArgumentsThatLookSecretAreRefused() throws {
    let (dir, project) = makeProject("sec-buildarg")
    dir.write("dist/comfy-init", "#!/bin/sh\nexit 0\n")
    chmod(project.initBinary, 0o755)
    for name in ["COMFYUI_PASSWORD", "hf_token", "MY_SECRET", "COMFYUI_PASSWORD_HASH"] {
      var builder = ImageBuilder(project: project, settings: Settings(project: project))
      builder.buildArgs = ["COMFYUI_REF=v0.8.0", name + "=x"]
      let error = #expect(throws: CtlError.self) { try builder.build() }
      #expect(error?.code == .badInput)
      #expect(
        error?.message == "--build-arg \(name) looks like a secret, and build arguments stay in `docker history`; "
          + "secrets go in .secrets/")
    }
  }
}
