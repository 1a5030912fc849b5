// `comfyctl build`: the runtime image from the static comfy-init that `scripts/build` made. Local
// sources (--comfyui-repo, --login-repo, --wheels; --standin for the stand-in ComfyUI) travel in the
// build context, so the image builds with no network beyond the base image's package archive.
import Foundation
import Spawn

public struct ImageBuilder {
  /// Where .cache/docker-context/ lands in the Dockerfile's `bake` stage; never in the runtime image.
  static let contextInImage = "/opt/comfyui-build"

  public let project: Project
  public let settings: Settings
  public var tag: String
  public var baseImage: String?
  public var standin = false
  public var sources = BuildSources()
  public var buildArgs: [String] = []
  public var noCache = false
  public var console = Console()

  public init(project: Project, settings: Settings) {
    self.project = project
    self.settings = settings
    self.tag = settings.image
    self.baseImage = settings.baseImage
  }

  /// Builds; returns the seconds it took.
  @discardableResult
  public func build() throws(CtlError) -> Double {
    try Prerequisites.checkEngine()
    guard FileManager.default.isExecutableFile(atPath: project.initBinary) else {
      throw CtlError(
        .buildFailed,
        "dist/comfy-init is missing; run scripts/build first (Docker only: "
          + "DOCKER_BUILDKIT=1 docker build --target comfy-init-binary --output dist .); "
          + "a bundle has it as comfy-init beside comfyctl"
      )
    }
    var values: [(String, String)] = []
    for arg in buildArgs {
      guard let eq = arg.firstIndex(of: "="), eq != arg.startIndex else {
        throw CtlError(.badInput, "--build-arg \(arg) is not NAME=VALUE")
      }
      let name = String(arg[..<eq])
      if SecretKey.isSecret(name) {
        throw CtlError(
          .badInput,
          "--build-arg \(name) looks like a secret, and build arguments stay in `docker history`; "
            + "secrets go in .secrets/"
        )
      }
      values.append((name, String(arg[arg.index(after: eq)...])))
    }
    var sources = self.sources
    if standin { sources = sources.filling(from: try standinSources()) }
    // What the bootstrap installs besides the requirement files (the Dockerfile's default).
    let extra = values.last(where: { $0.0 == "COMFYUI_PIP_EXTRA" })?.1 ?? "einops"
    let sourceValues = try SourcePreparer.prepare(
      sources, context: project.dockerContext,
      pipExtra: extra.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init),
      workingDirectory: FileManager.default.currentDirectoryPath)
    try ensureLocalBaseImage()
    // After the arguments are checked: the labels come from the binary that goes into the image.
    let identity = try InitBinary.identify(project.initBinary)
    var args = ["docker", "build", "--target", "runtime", "--tag", tag, "--file", project.root + "/Dockerfile"]
    if noCache { args.append("--no-cache") }
    var fixed: [(String, String)] = []
    if let baseImage { fixed.append(("BASE_IMAGE", baseImage)) }
    fixed += [
      ("COMFYUI_UID", String(settings.uid)), ("COMFYUI_GID", String(settings.gid)), ("COMFYUI_BAKE_FOR", tag),
      ("COMFY_INIT_BINARY", project.initBinaryPath), ("COMFY_GATEWAY_BINARY", project.gatewayBinaryPath),
    ]
    fixed += identity.labelArguments
    // --build-arg last: docker takes the last value of a name, so an explicit one wins.
    for (name, value) in fixed + sourceValues + values { args += ["--build-arg", name + "=" + value] }
    args.append(project.root)

    console.say("building \(tag)\(baseImage.map { " on \($0)" } ?? "")\(standin ? " with the stand-in ComfyUI" : "")")
    let started = Instant.now()
    let status = try ProcessRunner.stream(args, environment: builderEnvironment(), directory: project.root)
    let elapsed = started.secondsSince
    guard status == 0 else {
      throw CtlError(.buildFailed, "docker build failed (exit \(status)); the build output above says why")
    }
    removeBakeStage()
    console.say("built \(tag) in \(Console.seconds(elapsed))")
    return elapsed
  }

  /// The classic builder leaves the `bake` stage behind as an untagged image holding the copied sources
  /// and a second venv; removing it removes its layers too. (BuildKit keeps stages as build cache,
  /// which `docker builder prune` manages.) The next build runs the bootstrap again.
  func removeBakeStage() {
    let found = try? ProcessRunner.capture([
      "docker", "images", "--quiet", "--filter", "dangling=true", "--filter", "label=comfy-init.bake-for=" + tag,
    ])
    let ids = Set((found?.stdout ?? "").split(separator: "\n").map(String.init))
    guard !ids.isEmpty else { return }
    _ = try? ProcessRunner.capture(["docker", "image", "rm"] + ids.sorted())
  }

  /// The debootstrapped base (comfy-init-base:*) is made here by scripts/base-image when missing: no
  /// registry is reachable on machines that need it. Other base images are Docker's business.
  func ensureLocalBaseImage() throws(CtlError) {
    guard let baseImage, baseImage.hasPrefix("comfy-init-base:"), !Docker.imageExists(baseImage) else { return }
    let script = project.root + "/scripts/base-image"
    guard FileManager.default.isExecutableFile(atPath: script) else { return }
    console.say("base image \(baseImage) not found: making it with scripts/base-image")
    guard try ProcessRunner.stream([script, baseImage], directory: project.root) == 0 else {
      throw CtlError(.buildFailed, "scripts/base-image \(baseImage) failed; its output above says why")
    }
  }

  /// Without the buildx plugin, current docker CLIs need DOCKER_BUILDKIT=0 to use the classic
  /// builder; the Dockerfile's stage order makes both builders skip the Swift builder stage.
  func builderEnvironment() -> [String: String] {
    if let buildx = try? ProcessRunner.capture(["docker", "buildx", "version"]), buildx.succeeded { return [:] }
    return ["DOCKER_BUILDKIT": "0"]
  }

  /// The stand-in ComfyUI and ComfyUI-Login as local git repos (made in .cache/standin-repos/, outside
  /// the build context) and .cache/wheels: the same path as any local source.
  func standinSources() throws(CtlError) -> BuildSources {
    let script = project.root + "/Tests/Fixtures/make-standin-repos.sh"
    let wheels = project.root + "/.cache/wheels"
    guard FileManager.default.fileExists(atPath: script) else {
      throw CtlError(.badInput, "--standin needs Tests/Fixtures from the comfy-init checkout; \(script) is missing")
    }
    guard FileManager.default.fileExists(atPath: wheels) else {
      throw CtlError(.badInput, "--standin needs the wheels in .cache/wheels; run scripts/setup")
    }
    let repos = project.root + "/.cache/standin-repos"
    let made = try ProcessRunner.capture(["bash", script, project.root + "/Tests/Fixtures", repos])
    guard made.succeeded else { throw CtlError(.buildFailed, "make-standin-repos.sh failed: \(made.lastLine)") }
    return BuildSources(
      comfyuiRepo: repos + "/comfyui.git-src", comfyuiRef: "v0.8.0-standin", loginRepo: repos + "/login-src",
      loginRef: "v1.0-standin", wheels: wheels)
  }
}
