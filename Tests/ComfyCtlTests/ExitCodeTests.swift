// Every exit code of docs/comfyctl.md that a command can produce without a running stack, as people
// meet it: the code, one line on stderr, and the "how to fix it" half of that line. The codes that
// need a stack (5 for the image's user, 10, 11, 14, 19) are steps of EndToEndDockerTests.
import Bcrypt
import Foundation
import Testing

@testable import ComfyCtlKit

/// One row: a project prepared by `setup`, one comfyctl command in it, what it must end with.
struct ExitCase: Sendable, CustomTestStringConvertible {
  var name: String
  var code: CtlExitCode
  /// comfyctl's arguments; "$DIR" is the project folder. `--project-dir $DIR` is added unless they
  /// name one, the row runs `outside` any project, or it is a usage error.
  var args: [String]
  /// What stderr's one line must hold: the "how to fix it" half, for codes that have one.
  var says: String
  /// Run from a folder with no project at or above it, without --project-dir.
  var outside = false
  var stdin: String? = nil
  /// Prepares the project; returns environment variables for the command ("$DIR" expanded).
  var setup: @Sendable (CtlTempDir, Project) throws -> [String: String] = { _, _ in [:] }

  var testDescription: String { "\(code.rawValue) (\(code)): \(name)" }
}

@Suite struct ExitCodeTests {
  /// Rows that need neither a Docker engine nor a stack. Where the host's Docker is in the way (it
  /// has Compose v2, and comfyctl must not reach it), a docker CLI stand-in answers instead.
  static let withoutDocker: [ExitCase] = [
    ExitCase(
      name: "secrets hf-token: two lines on stdin", code: .tokenInvalid, args: ["secrets", "hf-token"],
      says: "a Hugging Face token is one line: pipe in the token alone", stdin: "hf_abc\nhf_def\n"),
    ExitCase(
      name: "secrets civitai-token: nothing on stdin", code: .tokenInvalid, args: ["secrets", "civitai-token"],
      says: "pipe it in: printf '%s' \"$TOKEN\" | comfyctl secrets civitai-token", stdin: "  \n"),
    ExitCase(
      name: "secrets show", code: .ok, args: ["secrets", "show"], says: "",
      setup: { _, project in try initialized(project) }),
    ExitCase(
      name: "secrets check: a store others can read", code: .checkFailed, args: ["secrets", "check"],
      says: "each row says how to fix it (`comfyctl secrets init` rewrites the derived files",
      setup: { _, project in
        try initialized(project)
        chmod(project.storeFile, 0o644)
        return [:]
      }),
    ExitCase(
      name: "--project-dir without compose/", code: .projectNotFound,
      args: ["secrets", "show", "--project-dir", "$DIR/elsewhere"],
      says: "has no compose/docker-compose.yml; point it at the comfy-init checkout or bundle",
      setup: { dir, _ in
        try FileManager.default.createDirectory(atPath: dir.file("elsewhere"), withIntermediateDirectories: true)
        return [:]
      }),
    ExitCase(
      name: "run outside any project", code: .projectNotFound, args: ["secrets", "show"],
      says: "cd into the comfy-init checkout or bundle, or pass --project-dir", outside: true),
    ExitCase(
      name: "no secrets yet", code: .secretsMissing, args: ["secrets", "show"],
      says: "run `comfyctl secrets init`"),
    ExitCase(
      name: "a store without the hash", code: .secretsInvalid, args: ["secrets", "show"],
      says: "restore it from a backup or run `comfyctl down --reset-auth` then `comfyctl secrets init`",
      setup: { dir, project in
        try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
        dir.write(".secrets/comfyui_auth_tokens.conf", "COMFYUI_USERNAME='admin'\nCOMFYUI_PASSWORD='long enough'\n")
        return [:]
      }),
    ExitCase(
      name: "a store whose hash is not bcrypt", code: .secretsInvalid, args: ["secrets", "show"],
      says: "COMFYUI_PASSWORD_HASH is not a bcrypt hash; run `comfyctl secrets rotate`",
      setup: { dir, project in
        try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
        dir.write(
          ".secrets/comfyui_auth_tokens.conf",
          "COMFYUI_USERNAME='alice'\nCOMFYUI_PASSWORD='long enough'\nCOMFYUI_PASSWORD_HASH='not-a-hash'\n")
        return [:]
      }),
    ExitCase(
      name: "env consolidate: two values for one key", code: .envConflict,
      args: ["env", "consolidate", "$DIR/.env", "$DIR/b.env"],
      says: "pass --prefer FILE to say whose value wins (nothing was changed)",
      setup: { dir, _ in
        dir.write("b.env", "COMFYUI_PROJECT_NAME='another'\n")
        return [:]
      }),
    ExitCase(
      name: ".env is a folder (a bind mount of a missing file makes one)", code: .filesystem,
      args: ["secrets", "init"], says: "check that it exists and is readable",
      setup: { dir, _ in
        unlink(dir.file(".env"))
        try FileManager.default.createDirectory(atPath: dir.file(".env"), withIntermediateDirectories: true)
        return [:]
      }),
    ExitCase(
      name: "the engine does not answer", code: .dockerUnavailable, args: ["status"],
      says: "start it (scripts/docker-engine) or check DOCKER_HOST",
      setup: { _, _ in ["DOCKER_HOST": "unix://$DIR/no-engine.sock"] }),
    ExitCase(
      name: "no docker CLI", code: .dockerUnavailable, args: ["status"],
      says: "the docker CLI is not installed; run scripts/docker-engine",
      setup: { dir, _ in
        try FileManager.default.createDirectory(atPath: dir.file("empty-bin"), withIntermediateDirectories: true)
        return ["PATH": dir.file("empty-bin")]
      }),
    ExitCase(
      name: "docker without the compose plugin", code: .composeMissing, args: ["up", "--cpu"],
      says: "(`docker compose version` failed); install the compose plugin (scripts/docker-engine)",
      setup: { dir, _ in try dockerStandin(dir, compose: nil) }),
    ExitCase(
      name: "Compose v1", code: .composeMissing, args: ["up", "--cpu"],
      says: "(`docker compose version` says 1.29.2); install the compose plugin (scripts/docker-engine)",
      setup: { dir, _ in try dockerStandin(dir, compose: "1.29.2") }),
    ExitCase(
      name: "a GPU asked for, no NVIDIA runtime", code: .gpuRuntimeMissing, args: ["up"],
      says:
        "install nvidia-container-toolkit and restart dockerd, or use `comfyctl up --cpu` (or COMFYUI_CPU=1 in .env)",
      setup: { dir, _ in try dockerStandin(dir, compose: "2.30.3") }),
    ExitCase(
      name: "a GPU asked for on Docker Desktop with WSL2 (no nvidia runtime listed): past the GPU check",
      code: .buildFailed, args: ["up"], says: "dist/comfy-init is missing; run scripts/build first",
      setup: { dir, _ in try dockerStandin(dir, compose: "2.30.3", desktop: true) }),
    // The next two get past the GPU check (`--cpu`, then COMFYUI_CPU=1 in .env, which needs no flag)
    // and stop at the image: none exists and there is no dist/comfy-init to build one from.
    ExitCase(
      name: "up --cpu, no image and no dist/comfy-init", code: .buildFailed, args: ["up", "--cpu"],
      says: "dist/comfy-init is missing; run scripts/build first",
      setup: { dir, _ in try dockerStandin(dir, compose: "2.30.3") }),
    ExitCase(
      name: "up with COMFYUI_CPU=1 in .env, no image and no dist/comfy-init", code: .buildFailed, args: ["up"],
      says: "dist/comfy-init is missing; run scripts/build first",
      setup: { dir, _ in
        dir.write(".env", dir.read(".env") + "COMFYUI_CPU=1\n")
        return try dockerStandin(dir, compose: "2.30.3")
      }),
    ExitCase(
      name: "validate: nothing listens", code: .serverUnreachable,
      args: ["validate", "--url", "http://127.0.0.1:$PORT"],
      says: "start it with `comfyctl up`",
      setup: { _, project in
        try initialized(project)
        return ["PORT": String(freePort())]
      }),
    ExitCase(
      name: "generate: a workflow file that is not JSON", code: .workflowNotJSON,
      args: ["generate", "$DIR/w.json", "--url", "http://127.0.0.1:$PORT"], says: "export the workflow with Save (API)",
      setup: { dir, _ in
        dir.write("w.json", "{not json")
        return ["PORT": String(freePort())]
      }),
    ExitCase(
      name: "generate: a UI-format workflow", code: .workflowUIFormat,
      args: ["generate", "$DIR/w.json", "--url", "http://127.0.0.1:$PORT"], says: "Save (API)",
      setup: { dir, _ in
        dir.write("w.json", #"{"nodes": [], "links": []}"#)
        return ["PORT": String(freePort())]
      }),
    ExitCase(
      name: "a password under 8 bytes", code: .badInput, args: ["secrets", "init", "--password-stdin"],
      says: "the password must be 8 to 72 bytes (bcrypt's limit); got 5", stdin: "short\n"),
    ExitCase(
      name: "--password-stdin reads nothing", code: .badInput, args: ["secrets", "init", "--password-stdin"],
      says: "--password-stdin read nothing; pipe the password in", stdin: ""),
    ExitCase(
      name: "an empty username", code: .badInput, args: ["secrets", "init", "--username", ""],
      says: "the username must be one line of 1 to 64 characters, e.g. admin"),
    ExitCase(
      name: "secrets show --token --password", code: .badInput, args: ["secrets", "show", "--token", "--password"],
      says: "--token and --password each print one secret; pick one",
      setup: { _, project in try initialized(project) }),
    ExitCase(
      name: "a project name Compose would not accept", code: .badInput, args: ["status"],
      says: "is not a Compose project name; use lowercase letters, digits, - and _, starting with a letter or "
        + "digit (e.g. mydeploy)",
      setup: { dir, _ in
        dir.write(".env", "COMFYUI_PROJECT_NAME='My Deploy'\n")
        return [:]
      }),
    ExitCase(
      name: "env consolidate: a file that does not exist", code: .badInput,
      args: ["env", "consolidate", "$DIR/.env", "$DIR/missing.env"],
      says: "does not exist; list only existing .env files"
    ),
    ExitCase(
      name: "env consolidate: --prefer names no input", code: .badInput,
      args: ["env", "consolidate", "$DIR/.env", "$DIR/b.env", "--prefer", "$DIR/c.env"],
      says: "is not one of the files to consolidate; name it as an input too",
      setup: { dir, _ in
        dir.write("b.env", "COMFYUI_PROJECT_NAME='another'\n")
        return [:]
      }),
    ExitCase(
      name: "a build argument that looks secret", code: .badInput, args: ["build", "--build-arg", "HF_TOKEN=hf_x"],
      says: "--build-arg HF_TOKEN looks like a secret, and build arguments stay in `docker history`; secrets go in "
        + ".secrets/",
      setup: { dir, _ in try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3")) }),
    ExitCase(
      name: "a build argument without =", code: .badInput, args: ["build", "--build-arg", "COMFYUI_REF"],
      says: "--build-arg COMFYUI_REF is not NAME=VALUE",
      setup: { dir, _ in try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3")) }),
    // Local build sources are checked before `docker build` starts (the stand-in fails on a build).
    ExitCase(
      name: "--comfyui-repo names a folder that is not a git repository", code: .notAGitRepository,
      args: ["build", "--comfyui-repo", "$DIR/plain"],
      says: "is not a git repository (a clone's top folder); clone it there or pass the repository's URL",
      setup: { dir, _ in
        try FileManager.default.createDirectory(atPath: dir.file("plain"), withIntermediateDirectories: true)
        return try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3"))
      }),
    ExitCase(
      name: "--login-repo names a folder inside a repository (it would bake in the enclosing one)",
      code: .notAGitRepository, args: ["build", "--login-repo", "$DIR/repo/sub"],
      says: "repo/sub is not a git repository (a clone's top folder)",
      setup: { dir, _ in
        try makeSourceRepo(dir, requirements: "aiohttp\n")
        return try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3"))
      }),
    ExitCase(
      name: "--comfyui-ref names a tag the local repository lacks", code: .refMissing,
      args: ["build", "--comfyui-repo", "$DIR/repo", "--comfyui-ref", "v9.9"],
      says: "repo has no commit, branch or tag v9.9; list them with `git -C",
      setup: { dir, _ in
        try makeSourceRepo(dir, requirements: "aiohttp\n")
        return try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3"))
      }),
    ExitCase(
      name: "a local ComfyUI without --comfyui-ref and without comfy-init's pinned tag", code: .refMissing,
      args: ["build", "--comfyui-repo", "$DIR/repo"],
      says: "has no commit, branch or tag v0.8.0 (the default; pass --comfyui-ref)",
      setup: { dir, _ in
        try makeSourceRepo(dir, requirements: "aiohttp\n")
        return try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3"))
      }),
    ExitCase(
      name: "--wheels lacks a requirement of ComfyUI at that ref and the extra einops", code: .wheelsIncomplete,
      args: ["build", "--comfyui-repo", "$DIR/repo", "--comfyui-ref", "v1", "--wheels", "$DIR/wheels"],
      says: "/wheels has no wheel for torch, einops (needed by ComfyUI's requirements.txt at v1, COMFYUI_PIP_EXTRA); "
        + "add them (pip download -d",
      setup: { dir, _ in
        // Names as pip spells them in files: case, _ and . differ from the requirement lines (PEP 503).
        try makeSourceRepo(dir, requirements: "torch\nPillow>=9 # images\naiohttp_session[secure]\nruamel.yaml\n")
        for wheel in [
          "pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl", "aiohttp_session-2.12.1-py3-none-any.whl",
          "ruamel_yaml-0.18.6-py3-none-any.whl", "uv-0.5.0-py3-none-any.whl",
        ] {
          dir.write("wheels/" + wheel, "")
        }
        return try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3"))
      }),
    ExitCase(
      name: "--wheels names no folder", code: .wheelsIncomplete, args: ["build", "--wheels", "$DIR/none"],
      says: "none is not a readable folder; point it at a folder of wheels",
      setup: { dir, _ in try withInitBinary(dir, docker: dockerStandin(dir, compose: "2.30.3")) }),
    ExitCase(
      name: "an unknown subcommand", code: .usage, args: ["secrets", "bogus"], says: "Unexpected argument 'bogus'"),
    ExitCase(
      name: "env consolidate without FILE", code: .usage, args: ["env", "consolidate", "$DIR/.env"],
      says: "Missing expected argument '<files> ...'"),
  ]

  @Test(arguments: withoutDocker) func exitCodeAndHowToFixIt(_ row: ExitCase) throws {
    let result = try ExitCodeTests.run(row)
    #expect(result.status == row.code.rawValue, "\(result.all)")
    guard row.code != .ok else {
      #expect(result.stderr.isEmpty && !result.stdout.isEmpty, "\(result.all)")
      return
    }
    #expect(result.stderr.contains(row.says), "\(result.stderr)")
    guard row.code != .usage else { return }  // swift-argument-parser's own message and usage lines
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.last?.hasPrefix("comfyctl: ") == true && lines.last?.contains(row.says) == true)
    // One line; `env consolidate` lists each conflicting key (values masked) before it.
    #expect(lines.count == 1 || row.code == .envConflict, "\(result.stderr)")
  }

  /// The fix a message names must work: `secrets rotate` repairs a store whose hash is unusable,
  /// keeping its username.
  @Test func rotateRepairsAStoreWhoseHashIsNotBcrypt() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("exit-rotate")
    try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
    dir.write(
      ".secrets/comfyui_auth_tokens.conf",
      "COMFYUI_USERNAME='alice'\nCOMFYUI_PASSWORD='long enough'\nCOMFYUI_PASSWORD_HASH='not-a-hash'\n")
    let rotate = try runTool([bin, "secrets", "rotate", "--project-dir", dir.path])
    #expect(rotate.status == 0, "\(rotate.all)")
    let credential = try SecretsStore(project: project).load()
    #expect(credential.username == "alice")
    #expect(Bcrypt.verify(password: credential.password, hash: credential.hash))
    #expect(try runTool([bin, "secrets", "check", "--project-dir", dir.path]).status == 0)
  }

  /// A file where .secrets/ belongs (a copy gone wrong, a bind mount) is refused by name and left as it
  /// was: not made 0700, not written through.
  @Test func aFileWhereTheSecretsFolderBelongsIsLeftAlone() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("exit-secrets-file")
    dir.write(".secrets", "notes\n")
    chmod(project.secretsDir, 0o644)
    let result = try runTool([bin, "secrets", "init", "--project-dir", dir.path])
    #expect(result.status == CtlExitCode.filesystem.rawValue, "\(result.all)")
    #expect(
      result.stderr
        == "comfyctl: \(project.secretsDir) is not a folder; move it away\n",
      "\(result.stderr)")
    #expect(mode(of: project.secretsDir) == 0o644)
    #expect(dir.read(".secrets") == "notes\n")
  }

  /// Rows that need a Docker engine, but no image and no stack.
  static let withEngine: [ExitCase] = [
    ExitCase(
      name: "a compose file Compose cannot read", code: .composeFailed, args: ["status"],
      says: "docker compose ps failed: ",
      setup: { dir, _ in
        dir.write("compose/docker-compose.yml", "services: [unclosed\n")
        return [:]
      }),
    ExitCase(
      name: "restart with nothing running", code: .containerFailed, args: ["restart"],
      says: "nothing is running; start it with `comfyctl up`"),
    ExitCase(
      name: "down --deep without --yes, no terminal", code: .confirmationRequired, args: ["down", "--deep"],
      says: "--deep deletes user data; confirm on a terminal or pass --yes"),
    ExitCase(
      name: "build without dist/comfy-init", code: .buildFailed, args: ["build"],
      says: "dist/comfy-init is missing; run scripts/build first (Docker only: "
        + "DOCKER_BUILDKIT=1 docker build --target comfy-init-binary --output dist .)"),
  ]

  @Test(.needs(.docker)) func exitCodesThatNeedOnlyTheEngine() throws {
    for row in ExitCodeTests.withEngine {
      let result = try ExitCodeTests.run(row)
      #expect(result.status == row.code.rawValue, "\(row.name): \(result.all)")
      let lines = result.stderr.split(separator: "\n")
      #expect(lines.count == 1 && lines[0].hasPrefix("comfyctl: "), "\(row.name): \(result.stderr)")
      #expect(result.stderr.contains(row.says), "\(row.name): \(result.stderr)")
    }
  }

  /// Codes only a running stack can produce, and the Docker tests that produce them.
  static let coveredWithAStack: [CtlExitCode: String] = [
    .secretsInvalid: "EndToEndDockerTests: the image's user cannot read the secret file",
    .gpuRuntimeMissing: "EndToEndDockerTests: the real engine has no NVIDIA runtime",
    .portInUse: "EndToEndDockerTests: a port another program holds",
    .healthTimeout: "EndToEndDockerTests: restart --wait-timeout 0",
    .authNotEnforced: "EndToEndDockerTests: an image from before the guard",
    .workflowRejected: "GenerateTests: node_errors",
    .executionFailed: "GenerateTests: StandinRaise",
    .generateTimeout: "GenerateTests: StandinSlowSteps past --timeout",
    .unauthorized: "GenerateTests: another project's token",
    .notASwarmManager: "SwarmTests: up --swarm on an engine in no swarm, without --init-swarm",
    .rolledBack: "SwarmTests: a rotation onto a secret the container cannot read",
  ]

  /// docs/comfyctl.md lists exactly the codes comfyctl has, and each has a row here or a Docker step.
  @Test func everyDocumentedExitCodeHasATest() throws {
    let docs = try String(contentsOfFile: CtlPaths.root + "/docs/comfyctl.md", encoding: .utf8)
    let documented = Set(
      docs.split(separator: "\n").compactMap { line -> Int32? in
        let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        return line.hasPrefix("| ") && cells.count >= 2 ? Int32(cells[0]) : nil
      })
    #expect(documented == Set(CtlExitCode.allCases.map(\.rawValue)))
    let tested = Set((ExitCodeTests.withoutDocker + ExitCodeTests.withEngine).map(\.code))
      .union(ExitCodeTests.coveredWithAStack.keys)
    #expect(
      Set(CtlExitCode.allCases).subtracting(tested).isEmpty,
      "no test for \(Set(CtlExitCode.allCases).subtracting(tested))")
  }

  static func run(_ row: ExitCase) throws -> RunResult {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("exit-\(row.code.rawValue)")
    var environment = try row.setup(dir, project)
    let port = environment.removeValue(forKey: "PORT") ?? ""
    let expand = { (text: String) in
      text.replacingOccurrences(of: "$DIR", with: dir.path).replacingOccurrences(of: "$PORT", with: port)
    }
    environment = environment.mapValues(expand)
    var args = [bin] + row.args.map(expand)
    if !row.outside && !row.args.contains("--project-dir") && row.code != .usage {
      args += ["--project-dir", dir.path]
    }
    let outside = CtlTempDir("exit-outside")  // under /tmp: no compose/ at or above it
    return try withExtendedLifetime((dir, outside)) {
      try runTool(
        args, directory: row.outside ? outside.path : dir.path, environment: environment, stdin: row.stdin,
        timeout: 120)
    }
  }
}

@discardableResult
private func initialized(_ project: Project) throws -> [String: String] {
  try initializeSecrets(project: project, console: Console(isTerminal: false))
  return [:]
}

/// A docker CLI that answers like one whose engine runs without an NVIDIA runtime, with the given
/// Compose version (nil: no compose plugin, as docker says then), and has no images. Anything else a
/// row did not mean to reach fails loudly. The host's real docker cannot be put in these states.
/// `desktop`: the engine answers like Docker Desktop's WSL2 backend (no NVIDIA runtime listed either).
private func dockerStandin(_ dir: CtlTempDir, compose: String?, desktop: Bool = false) throws -> [String: String] {
  let system =
    desktop ? "Docker Desktop\\n5.15.167.4-microsoft-standard-WSL2" : "Debian GNU/Linux 12 (bookworm)\\n6.1.0-28-amd64"
  let composeAnswer =
    compose.map { "echo \($0)" }
    ?? "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1"
  dir.write(
    "bin/docker",
    """
    #!/bin/sh
    # STAND-IN for the docker CLI (ExitCodeTests): an engine without an NVIDIA runtime and without images.
    case "$*" in
      "info --format {{.ServerVersion}}") echo 27.5.1 ;;
      "info --format {{json .Runtimes}}"*)
        printf '%s\\n\(system)\\n' '{"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc"}}' ;;
      "compose version --short") \(composeAnswer) ;;
      "image inspect "*) echo "Error response from daemon: No such image" >&2; exit 1 ;;
      "buildx version") exit 1 ;;
      *) echo "docker stand-in: '$*' is not part of this test" >&2; exit 99 ;;
    esac

    """)
  chmod(dir.file("bin/docker"), 0o755)
  // No nvidia-ctk either: only the stand-in and the basic tools.
  return ["PATH": dir.file("bin") + ":/usr/bin:/bin"]
}

/// DIR/repo: a git repository with one commit, tagged v1, holding requirements.txt and a folder sub/.
private func makeSourceRepo(_ dir: CtlTempDir, requirements: String) throws {
  dir.write("repo/requirements.txt", requirements)
  dir.write("repo/sub/README.md", "a folder inside the repository\n")
  let git = ["/usr/bin/env", "git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-C", dir.file("repo")]
  for args in [["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one"], ["tag", "v1"]] {
    let result = try runTool(git + args)
    guard result.status == 0 else { throw CtlError(.filesystem, "git \(args): \(result.all)") }
  }
}

/// A dist/comfy-init, so that `build` gets past the binary check to its arguments.
private func withInitBinary(_ dir: CtlTempDir, docker environment: [String: String]) throws -> [String: String] {
  dir.write("dist/comfy-init", "#!/bin/sh\nexit 0\n")
  chmod(dir.file("dist/comfy-init"), 0o755)
  return environment
}
