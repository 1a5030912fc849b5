// `comfyctl build [--base-image IMG] [--tag T] [sources]`.
import ArgumentParser

struct BuildCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "build",
    abstract: "Build the runtime image from dist/comfy-init (ComfyUI, venv and ComfyUI-Login baked in).")

  @OptionGroup var options: ProjectOptions
  @OptionGroup var build: BuildOptions

  func run() throws {
    let project = try options.project()
    try build.builder(project: project, settings: Settings(project: project)).build()
  }
}

/// Shared by `build` and `up --build`.
struct BuildOptions: ParsableArguments {
  @Option(help: "Base image (default: COMFYUI_BASE_IMAGE in .env, else the Dockerfile's ubuntu:24.04).")
  var baseImage: String?
  @Option(help: "Image tag (default: COMFYUI_IMAGE in .env, else \(Settings.defaultImage)).") var tag: String?
  @Flag(help: "Bake in the stand-in ComfyUI and local wheels from Tests/Fixtures and .cache/wheels (no network).")
  var standin = false
  @Option(help: "ComfyUI: a local git repository (copied into the build) or a git URL.") var comfyuiRepo: String?
  @Option(help: "ComfyUI's tag, branch or commit (default: comfy-init's pinned release).") var comfyuiRef: String?
  @Option(help: "ComfyUI-Login: a local git repository or a git URL.") var loginRepo: String?
  @Option(help: "ComfyUI-Login's tag, branch or commit.") var loginRef: String?
  @Option(help: "A folder of wheels: pip installs only from it (no index), and it stays out of the image.")
  var wheels: String?
  @Option(
    help: ArgumentHelp(
      "PyTorch's own index for a CUDA variant (e.g. cu128), as pytorch.org's install selector shows it: "
        + "torch, torchvision and torchaudio come from it alone (docs/gpu.md says which driver each needs).",
      valueName: "url"))
  var torchIndexURL: String?
  @Option(
    name: .customLong("build-arg"), help: "NAME=VALUE for the Dockerfile, e.g. COMFYUI_REF=v0.8.0 (never a secret).")
  var buildArgs: [String] = []
  @Flag(help: "Build every layer again.") var noCache = false

  func builder(project: Project, settings: Settings) -> ImageBuilder {
    var builder = ImageBuilder(project: project, settings: settings)
    if let tag { builder.tag = tag }
    if let baseImage { builder.baseImage = baseImage }
    builder.standin = standin
    builder.sources = BuildSources(
      comfyuiRepo: comfyuiRepo, comfyuiRef: comfyuiRef, loginRepo: loginRepo, loginRef: loginRef, wheels: wheels,
      torchIndexURL: torchIndexURL)
    builder.buildArgs = buildArgs
    builder.noCache = noCache
    return builder
  }
}
