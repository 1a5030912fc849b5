// Every bad input gets one line saying what is wrong and how to fix it, its own exit code, and
// deletes nothing. README.md's "Bad input" table lists the same cases.
import Foundation
import Testing

struct BadInput: CustomTestStringConvertible, Sendable {
  var name: String
  var env: [String: String] = [:]
  var args: [String] = ["bootstrap"]
  var code: Int32
  /// What is wrong...
  var says: String
  /// ...and how to fix it (README's "Bad input" table promises both halves).
  var fix: String
  /// Run as an unprivileged user (nobody) even when the tests run as root.
  var unprivileged = false
  /// Runs first, against the home (e.g. to make a folder that is not a venv).
  var prepare: (@Sendable (ComfyHome) throws -> Void)? = nil
  var testDescription: String { name }
}

let badInputs: [BadInput] = [
  BadInput(
    name: "unknown flag", args: ["bootstrap", "--bogus", "1"], code: 2, says: "unknown flag --bogus",
    fix: "see comfy-init --help"),
  BadInput(
    name: "secret as a flag", args: ["run", "--password", "x"], code: 2, says: "would put a secret on the command line",
    fix: "set COMFYUI_PASSWORD_FILE"),
  BadInput(
    name: "unknown command", args: ["serve-forever"], code: 2, says: "unknown command", fix: "run comfy-init --help"),
  BadInput(
    name: "Hub token as a flag", args: ["bootstrap", "--hf-token", "hf_x"], code: 2,
    says: "--hf-token would put a secret on the command line; set HF_TOKEN_FILE", fix: "set HF_TOKEN_FILE"),
  BadInput(
    name: "port not a number", env: ["COMFYUI_PORT": "eighty"], code: 10, says: "COMFYUI_PORT='eighty' is not a port",
    fix: "use a number from 1 to 65535"),
  BadInput(
    name: "port out of range", env: ["COMFYUI_PORT": "70000"], code: 10, says: "from 1 to 65535",
    fix: "use a number from 1 to 65535"),
  BadInput(
    name: "auth mode", env: ["COMFYUI_AUTH": "maybe"], code: 10, says: "use login or none", fix: "use login or none"),
  BadInput(
    name: "legacy login flag", env: ["COMFYUI_LOGIN_ENABLED": "perhaps"], code: 10, says: "not a boolean",
    fix: "use 1 or 0"),
  BadInput(
    name: "relative home", env: ["COMFYUI_HOME": "comfy"], code: 10, says: "must be an absolute path",
    fix: "e.g. /opt/comfyui"),
  BadInput(
    name: "unclosed quote in args", env: ["COMFYUI_ARGS": "--cpu '--x"], code: 10, says: "unclosed ' quote",
    fix: "close it or escape it"),
  BadInput(
    name: "port inside args", env: ["COMFYUI_ARGS": "--port 1"], code: 10, says: "use COMFYUI_PORT instead",
    fix: "use COMFYUI_PORT instead"),
  BadInput(
    name: "abbreviated port inside args", env: ["COMFYUI_ARGS": "--cpu --liste 0.0.0.0"], code: 10,
    says: "sets --listen (as '--liste'); use COMFYUI_LISTEN instead", fix: "use COMFYUI_LISTEN instead"),
  BadInput(
    name: "ComfyUI's own TLS with the gate", env: ["COMFYUI_ARGS": "--cpu --tls-certfile /c.pem"], code: 10,
    says: "but with auth on the gate serves clients", fix: "COMFYUI_TLS_CERT and COMFYUI_TLS_KEY"),
  BadInput(
    name: "a certificate without its key", env: ["COMFYUI_TLS_CERT": "/c.pem"], code: 10,
    says: "COMFYUI_TLS_CERT and COMFYUI_TLS_KEY go together", fix: "set both (PEM files) or neither"),
  BadInput(
    name: "the gate on several addresses", env: ["COMFYUI_LISTEN": "127.0.0.1,::1"], code: 10,
    says: "but the gate listens on one", fix: "use 0.0.0.0 (IPv4) or :: (both)"),
  BadInput(
    name: "the gate's port twice", env: ["COMFYUI_INTERNAL_PORT": "8188", "COMFYUI_PORT": "8188"], code: 10,
    says: "is COMFYUI_PORT too", fix: "pick another internal port"),
  BadInput(
    name: "the gate is missing", env: ["COMFYUI_GATEWAY": "/nonexistent/comfy-gateway"], args: ["run"], code: 23,
    says: "is not an executable comfy-gateway", fix: "install it beside comfy-init or set COMFYUI_GATEWAY"),
  BadInput(
    name: "args that skip custom nodes", env: ["COMFYUI_ARGS": "--disable-all-custom-nodes"], code: 10,
    says: "would start ComfyUI without ComfyUI-Login; remove it, or set COMFYUI_AUTH=none",
    fix: "remove it, or set COMFYUI_AUTH=none"),
  BadInput(
    name: "args that move the base directory", env: ["COMFYUI_ARGS": "--base-dir=/srv"], code: 10,
    says: "sets --base-directory (as '--base-dir=/srv')", fix: "remove it, or set COMFYUI_AUTH=none"),
  BadInput(
    name: "args that hide the import warning", env: ["COMFYUI_ARGS": "--verbose ERROR"], code: 10,
    says: "hides the warning ComfyUI prints when ComfyUI-Login fails to load; use WARNING or lower",
    fix: "use WARNING or lower"),
  BadInput(
    name: "server arguments that skip custom nodes", args: ["run", "--", "--whitelist-custom-nodes", "x"], code: 10,
    says: "the server argument list after -- sets --whitelist-custom-nodes", fix: "remove it, or set COMFYUI_AUTH=none"),
  BadInput(
    name: "exec mode with auth", env: ["COMFYUI_INIT": "exec"], code: 10,
    says: "COMFYUI_INIT=exec cannot keep auth on", fix: "use COMFYUI_INIT=supervise"),
  BadInput(
    name: "repository URL that is an option", env: ["COMFYUI_REPO": "--upload-pack=touch /tmp/pwned"], code: 10,
    says: "is not a repository URL", fix: "use https://host/owner/repo.git or a local path"),
  BadInput(
    name: "login repository URL that is an option", env: ["COMFYUI_LOGIN_REPO": "-uhack"], code: 10,
    says: "COMFYUI_LOGIN_REPO='-uhack' is not a repository URL", fix: "use https://host/owner/repo.git or a local path"),
  BadInput(
    name: "stop timeout", env: ["COMFYUI_STOP_TIMEOUT": "-1"], code: 10, says: "COMFYUI_STOP_TIMEOUT",
    fix: "is not a number of seconds from 0 to 3600"),
  BadInput(
    name: "stop signal", env: ["COMFYUI_STOP_SIGNAL": "SIGNOPE"], code: 10, says: "not a signal name",
    fix: "use SIGINT or SIGTERM"),
  BadInput(
    name: "init mode", env: ["COMFYUI_INIT": "systemd"], code: 10, says: "use supervise or exec",
    fix: "use supervise or exec"),
  BadInput(
    name: "update flag", env: ["COMFYUI_UPDATE": "sometimes"], code: 10, says: "not a boolean", fix: "use 1 or 0"),
  BadInput(
    name: "installer", env: ["COMFYUI_INSTALLER": "bogus"], code: 10,
    says: "COMFYUI_INSTALLER='bogus' is not valid; use auto, pip or uv", fix: "use auto, pip or uv"),
  BadInput(
    name: "installer flag", args: ["bootstrap", "--installer", "bogus"], code: 10,
    says: "COMFYUI_INSTALLER='bogus' is not valid", fix: "use auto, pip or uv"),
  BadInput(
    name: "download concurrency", env: ["COMFYUI_DOWNLOAD_CONCURRENCY": "0"], code: 10,
    says: "is not a number from 1 to 16", fix: "e.g. 3"),
  BadInput(
    name: "pip no-index", env: ["PIP_NO_INDEX": "maybe"], code: 10, says: "PIP_NO_INDEX='maybe' is not a boolean",
    fix: "use 1 or 0"),
  BadInput(name: "PUID", env: ["PUID": "bob"], code: 10, says: "not a numeric user id", fix: "e.g. 1000"),
  BadInput(
    name: "PGID without PUID", env: ["PGID": "1000"], code: 10, says: "PGID is set without PUID", fix: "set both"),
  BadInput(
    name: "ref that is an option", env: ["COMFYUI_REF": "--upload-pack=touch"], code: 10, says: "not a git tag",
    fix: "e.g. v0.8.0"),
  BadInput(
    name: "custom node spec", env: ["COMFYUI_CUSTOM_NODES": "https://host/owner/.hidden"], code: 10,
    says: "is not URL[@REF]", fix: "e.g. https://host/owner/Node.git@v1.2"),
  BadInput(
    name: "pip extra that is an option", env: ["COMFYUI_PIP_EXTRA": "--index-url=x"], code: 10, says: "an option",
    fix: "list requirements only"),
  BadInput(
    name: "username with newline", env: ["COMFYUI_USERNAME": "a\nb"], code: 10, says: "one non-empty line",
    fix: "line 2 of login/PASSWORD"),
  BadInput(
    name: "no credential", env: ["COMFYUI_PASSWORD": ""], args: ["run"], code: 11,
    says: "the first visitor would claim the server", fix: "set COMFYUI_PASSWORD_FILE or COMFYUI_PASSWORD_HASH_FILE"),
  BadInput(
    name: "unreadable password file", env: ["COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_FILE": "/nonexistent/pw"],
    code: 11, says: "cannot be read", fix: "mount the secret file there"),
  BadInput(
    name: "malformed hash", env: ["COMFYUI_PASSWORD": "", "COMFYUI_PASSWORD_HASH": "$2b$12$short"], code: 11,
    says: "does not hold a bcrypt hash", fix: "make one with `comfy-init hash-password`"),
  BadInput(
    name: "two credentials", env: ["COMFYUI_PASSWORD_HASH": "x"], code: 11, says: "keep exactly one credential source",
    fix: "keep exactly one credential source"),
  BadInput(
    name: "password over 72 bytes", env: ["COMFYUI_PASSWORD": String(repeating: "x", count: 73)], code: 11,
    says: "72 bytes", fix: "use a shorter password"),
  BadInput(
    name: "home not writable", env: ["COMFYUI_HOME": "/proc/comfy"], code: 12, says: "is not usable",
    fix: "mount a writable volume there"),
  BadInput(
    name: "repository missing", env: ["COMFYUI_REPO": "file:///nonexistent/ComfyUI"], code: 14,
    says: "cannot clone ComfyUI", fix: "check the URL, the ref and the network"),
  BadInput(
    name: "tag missing", env: ["COMFYUI_REF": "v9.9.9"], code: 14, says: "cannot clone ComfyUI",
    fix: "check the URL, the ref and the network"),
  BadInput(
    name: "not a ComfyUI repository", env: ["COMFYUI_REPO": "LOGIN_REPO"], code: 14, says: "has no main.py",
    fix: "COMFYUI_REPO must be a ComfyUI repository"),
  BadInput(
    name: "venv folder is something else", code: 15, says: "is not a Python venv", fix: "move it away",
    prepare: { h in
      try FileManager.default.createDirectory(atPath: h.home + "/venv", withIntermediateDirectories: true)
      try "keep me".write(toFile: h.home + "/venv/notes.txt", atomically: true, encoding: .utf8)
    }),
  BadInput(
    name: "requirement that cannot be installed", env: ["COMFYUI_PIP_EXTRA": "no-such-package-xyz"], code: 16,
    says: "installing the requirements", fix: "read the installer's message above"),
  BadInput(
    name: "offline without a checkout",
    env: ["COMFYUI_OFFLINE": "1", "COMFYUI_REPO": "https://example.invalid/ComfyUI.git"], code: 17,
    says: "COMFYUI_OFFLINE=1 forbids", fix: "unset COMFYUI_OFFLINE or provide the checkout"),
  BadInput(
    name: "custom node clone fails", env: ["COMFYUI_CUSTOM_NODES": "file:///nonexistent/MyNode.git"], code: 18,
    says: "cannot clone custom node MyNode", fix: "check the URL, the ref and the network"),
  BadInput(
    name: "PUID without root", env: ["PUID": "4242"], args: ["bootstrap"], code: 19,
    says: "needs comfy-init to start as root", fix: "drop PUID or start as root", unprivileged: true),
]

/// setpriv runs the command as nobody, without groups: what a container started with `--user` is.
private let nobody: uid_t = 65534

@Suite struct BadInputTests {
  @Test(arguments: badInputs)
  func badInputFailsWithOneLineAndItsOwnCode(_ input: BadInput) throws {
    let h = ComfyHome()
    // User data that must survive any failure.
    let models = h.home + "/ComfyUI/models/checkpoints"
    try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
    try "weights".write(toFile: models + "/mine.safetensors", atomically: true, encoding: .utf8)
    try input.prepare?(h)
    var env = input.env
    if env["COMFYUI_REPO"] == "LOGIN_REPO" {
      env["COMFYUI_REPO"] = StandinRepos.loginRepo; env["COMFYUI_REF"] = StandinRepos.loginRef
    }
    var command = [Paths.comfyInit] + input.args
    if input.unprivileged && getuid() == 0 {
      // The home belongs to nobody, as a volume of a container run with --user would.
      chmod(h.tmp.path, 0o755)
      chmod(h.calls, 0o666)
      for path in [h.home, h.home + "/ComfyUI", h.home + "/ComfyUI/models", models, models + "/mine.safetensors"] {
        chown(path, nobody, nobody)
      }
      command = ["/usr/bin/setpriv", "--reuid=\(nobody)", "--regid=\(nobody)", "--clear-groups", "--"] + command
    }
    let result = try runProcess(command, environment: h.environment.merging(env) { $1 })
    #expect(result.status == input.code, "\(input.name): \(result.stderr)")
    let errors = result.stderr.split(separator: "\n").filter { $0.contains("comfy-init: error:") }
    #expect(errors.count == 1, "\(input.name): expected one error line: \(result.stderr)")
    #expect(errors.first?.contains(input.says) == true, "\(input.name): \(errors)")
    #expect(errors.first?.contains(input.fix) == true, "\(input.name): no '\(input.fix)' in \(errors)")
    #expect(FileManager.default.fileExists(atPath: models + "/mine.safetensors"), "user data was deleted")
    // Usage, configuration and credential errors come before the disk is touched.
    if [2, 10, 11, 23].contains(input.code) {
      for made in ["/.comfy-init", "/ComfyUI/.git", "/ComfyUI/main.py", "/venv"] {
        #expect(!FileManager.default.fileExists(atPath: h.home + made), "\(input.name): \(made) made")
      }
      #expect(h.recordedCalls.isEmpty, "\(input.name): ran \(h.recordedCalls)")
    }
    if input.prepare != nil, FileManager.default.fileExists(atPath: h.home + "/venv/notes.txt") == false,
      input.code == 15
    {
      Issue.record("the non-venv folder's content was deleted")
    }
  }

  @Test func secretsStayOutOfLogsAndTheServerEnvironment() throws {
    let h = ComfyHome(["COMFYUI_PASSWORD": "s3cret-never-logged"])
    let server = try h.start()
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    #expect(!server.log.contains("s3cret-never-logged"))
    // ComfyUI-Login logs its token; comfy-init cuts it out of the container log.
    #expect(!server.log.contains(h.token), "the token reached the log")
    #expect(server.log.contains("use token=<redacted>"), "\(server.log)")
    let python = try #require(serverPID(under: server.pid))
    let environ = try String(contentsOfFile: "/proc/\(python)/environ", encoding: .isoLatin1)
    #expect(!environ.contains("s3cret-never-logged"), "the server inherited the password")
    let cmdline = try String(contentsOfFile: "/proc/\(python)/cmdline", encoding: .isoLatin1)
    #expect(!cmdline.contains("s3cret"))
  }
}
