// Where the image build takes ComfyUI, ComfyUI-Login and the Python packages from. A URL is passed
// through to the bootstrap; a local git folder or wheel folder is checked, then brought into the
// build context (.cache/docker-context/), which only the Dockerfile's `bake` stage sees: the runtime
// image keeps the venv and the checkouts, never the copies. `--standin` is the case where these are
// the stand-in repos and .cache/wheels.
import Foundation

public struct BuildSources: Sendable, Equatable {
  public var comfyuiRepo: String?
  public var comfyuiRef: String?
  public var loginRepo: String?
  public var loginRef: String?
  public var wheels: String?
  /// PyTorch's own index for one CUDA variant: torch, torchvision and torchaudio come from it alone
  /// (comfy-init's COMFYUI_TORCH_INDEX_URL, the Dockerfile's TORCH_INDEX_URL).
  public var torchIndexURL: String?

  public init(
    comfyuiRepo: String? = nil, comfyuiRef: String? = nil, loginRepo: String? = nil, loginRef: String? = nil,
    wheels: String? = nil, torchIndexURL: String? = nil
  ) {
    self.comfyuiRepo = comfyuiRepo
    self.comfyuiRef = comfyuiRef
    self.loginRepo = loginRepo
    self.loginRef = loginRef
    self.wheels = wheels
    self.torchIndexURL = torchIndexURL
  }

  /// Fills what is unset from `other` (explicit flags win over --standin's defaults).
  func filling(from other: BuildSources) -> BuildSources {
    BuildSources(
      comfyuiRepo: comfyuiRepo ?? other.comfyuiRepo, comfyuiRef: comfyuiRef ?? other.comfyuiRef,
      loginRepo: loginRepo ?? other.loginRepo, loginRef: loginRef ?? other.loginRef, wheels: wheels ?? other.wheels,
      torchIndexURL: torchIndexURL ?? other.torchIndexURL)
  }

  var isEmpty: Bool { self == BuildSources() }
}

/// One git source: what the flags say and where it goes in the build context.
struct RepoSource {
  var label: String
  var flag: String
  var repo: String?
  var ref: String?
  /// The ref the bootstrap checks out when none is given (comfy-init's pins; nil: the default branch).
  var defaultRef: String?
  var folder: String
  var repoVariable: String
  var refVariable: String
}

enum SourcePreparer {
  /// A git URL (scheme://, or scp-like user@host:path) is passed through; anything else is a path.
  static func isURL(_ text: String) -> Bool {
    if text.contains("://") { return true }
    guard let colon = text.firstIndex(of: ":"), !text.hasPrefix("/"), !text.hasPrefix(".") else { return false }
    return text[..<colon].contains("@")
  }

  /// Checks every local source, then fills `context` (repos/, wheels/) and returns the build arguments.
  /// Nothing is written before every check has passed.
  static func prepare(
    _ sources: BuildSources, context: String, pipExtra: [String], workingDirectory: String
  ) throws(CtlError) -> [(String, String)] {
    let repos = [
      RepoSource(
        label: "ComfyUI", flag: "--comfyui-repo", repo: sources.comfyuiRepo, ref: sources.comfyuiRef,
        // comfy-init's Config.defaultRef (another target, not linked into comfyctl).
        defaultRef: "v0.8.0", folder: "comfyui.git", repoVariable: "COMFYUI_REPO", refVariable: "COMFYUI_REF"),
      RepoSource(
        label: "ComfyUI-Login", flag: "--login-repo", repo: sources.loginRepo, ref: sources.loginRef, defaultRef: nil,
        folder: "login.git", repoVariable: "COMFYUI_LOGIN_REPO", refVariable: "COMFYUI_LOGIN_REF"),
    ]
    var values: [(String, String)] = []
    var copies: [(from: String, folder: String)] = []
    var needed: [(requirement: String, origin: String)] = []
    for source in repos {
      if let ref = source.ref { values.append((source.refVariable, ref)) }
      guard let repo = source.repo else { continue }
      if isURL(repo) {
        values.append((source.repoVariable, repo))
        continue
      }
      let path = absolute(repo, from: workingDirectory)
      try checkRepository(path, flag: source.flag)
      let ref = source.ref ?? source.defaultRef ?? "HEAD"
      try checkRef(ref, in: path, source: source)
      if let text = git(["show", "\(ref):requirements.txt"], in: path) {
        needed += requirementNames(text).map { ($0, "\(source.label)'s requirements.txt at \(ref)") }
      }
      copies.append((path, source.folder))
      values.append((source.repoVariable, "file://\(ImageBuilder.contextInImage)/repos/\(source.folder)"))
    }
    needed += pipExtra.map { ($0, "COMFYUI_PIP_EXTRA") }
    if let torchIndex = sources.torchIndexURL {
      values.append(("TORCH_INDEX_URL", torchIndex))
      // Those come from the torch index, not from the wheel folder.
      needed.removeAll { torchPackages.contains(normalize($0.requirement)) }
    }
    var wheelFiles: [String] = []
    var wheelFolder = ""
    if let wheels = sources.wheels {
      wheelFolder = absolute(wheels, from: workingDirectory)
      wheelFiles = try packageFiles(in: wheelFolder)
      let available = Set(wheelFiles.compactMap(distributionName))
      var missing: [String] = []
      var origins: [String] = []
      for (requirement, origin) in needed where !available.contains(normalize(requirement)) {
        if !missing.contains(requirement) { missing.append(requirement) }
        if !origins.contains(origin) { origins.append(origin) }
      }
      guard missing.isEmpty else {
        throw CtlError(
          .wheelsIncomplete,
          "--wheels \(wheels) has no wheel for \(missing.joined(separator: ", ")) (needed by "
            + "\(origins.joined(separator: ", "))); add them (pip download -d \(wheels) NAME) or drop --wheels"
        )
      }
      values += [("PIP_FIND_LINKS", "\(ImageBuilder.contextInImage)/wheels"), ("PIP_NO_INDEX", "1")]
    }

    for folder in ["repos", "wheels"] { try? FileManager.default.removeItem(atPath: context + "/" + folder) }
    do {
      try FileManager.default.createDirectory(atPath: context + "/repos", withIntermediateDirectories: true)
      if !wheelFiles.isEmpty {
        try FileManager.default.createDirectory(atPath: context + "/wheels", withIntermediateDirectories: true)
      }
      for file in wheelFiles {
        let from = wheelFolder + "/" + file
        let to = context + "/wheels/" + file
        // A hard link where the folders share a file system: the real wheels are gigabytes.
        do { try FileManager.default.linkItem(atPath: from, toPath: to) } catch {
          try FileManager.default.copyItem(atPath: from, toPath: to)
        }
      }
    } catch {
      throw CtlError(.filesystem, "cannot fill \(context): \(FileOps.describe(error))")
    }
    for (from, folder) in copies {
      // A mirror: every branch and tag, no work tree, objects hard-linked where possible.
      let made = try ProcessRunner.capture(
        ["git", "clone", "--quiet", "--mirror", "--", from, context + "/repos/" + folder], environment: gitEnvironment)
      guard made.succeeded else { throw CtlError(.filesystem, "cannot copy \(from) into \(context): \(made.lastLine)") }
    }
    return values
  }

  /// What comfy-init installs from COMFYUI_TORCH_INDEX_URL (its Venv.torchPackages).
  static let torchPackages: Set<String> = ["torch", "torchvision", "torchaudio"]

  static let gitEnvironment = ["GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"]

  static func absolute(_ path: String, from directory: String) -> String {
    let full = path.hasPrefix("/") ? path : directory + "/" + path
    return URL(fileURLWithPath: full).standardizedFileURL.path
  }

  static func git(_ args: [String], in repo: String) -> String? {
    // safe.directory: a repo owned by another user is still only read here.
    guard
      let result = try? ProcessRunner.capture(
        ["git", "-c", "safe.directory=*", "-C", repo] + args, environment: gitEnvironment),
      result.succeeded
    else { return nil }
    return result.stdout
  }

  /// The folder itself must be a repository (its top level, or a bare one), not a folder inside one:
  /// that would bake in the enclosing project.
  static func checkRepository(_ path: String, flag: String) throws(CtlError) {
    let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    let top = git(["rev-parse", "--show-toplevel"], in: path)?.trimmingCharacters(in: .whitespacesAndNewlines)
    let bare = git(["rev-parse", "--is-bare-repository"], in: path)?.hasPrefix("true") == true
    let gitDir = git(["rev-parse", "--absolute-git-dir"], in: path)?.trimmingCharacters(in: .whitespacesAndNewlines)
    let isRepo =
      top.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == real } == true
      || (bare && gitDir.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path == real } == true)
    guard isRepo else {
      throw CtlError(
        .notAGitRepository,
        "\(flag) \(path) is not a git repository (a clone's top folder); clone it there or pass the repository's URL")
    }
  }

  static func checkRef(_ ref: String, in path: String, source: RepoSource) throws(CtlError) {
    guard git(["rev-parse", "--verify", "--quiet", "\(ref)^{commit}"], in: path) == nil else { return }
    let how =
      source.ref == nil ? " (the default; pass \(source.flag.replacingOccurrences(of: "repo", with: "ref")))" : ""
    throw CtlError(
      .refMissing,
      "\(source.flag) \(path) has no commit, branch or tag \(ref)\(how); list them with "
        + "`git -C \(path) tag` and `git -C \(path) branch -a`")
  }

  static func packageFiles(in folder: String) throws(CtlError) -> [String] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue,
      let files = try? FileManager.default.contentsOfDirectory(atPath: folder)
    else {
      throw CtlError(.wheelsIncomplete, "--wheels \(folder) is not a readable folder; point it at a folder of wheels")
    }
    // uv is an installer, not a requirement: the bootstrap in the image uses pip.
    return files.filter { name in
      !name.hasPrefix("uv-") && [".whl", ".tar.gz", ".zip"].contains { name.hasSuffix($0) }
    }.sorted()
  }

  /// The distribution a wheel or sdist file holds, normalised: `aiohttp_session-2.12.1-py3-none-any.whl`
  /// is aiohttp-session.
  static func distributionName(_ file: String) -> String? {
    if file.hasSuffix(".whl") { return file.split(separator: "-").first.map { normalize(String($0)) } }
    let stem = file.replacingOccurrences(of: ".tar.gz", with: "").replacingOccurrences(of: ".zip", with: "")
    guard let dash = stem.lastIndex(of: "-") else { return nil }
    return normalize(String(stem[..<dash]))
  }

  /// PEP 503: lowercase, every run of - _ . one dash.
  static func normalize(_ name: String) -> String {
    var out = ""
    var lastWasSeparator = false
    for c in name.lowercased() {
      if c == "-" || c == "_" || c == "." {
        if !lastWasSeparator { out.append("-") }
        lastWasSeparator = true
      } else {
        out.append(c)
        lastWasSeparator = false
      }
    }
    return out
  }

  /// The project names a requirements file asks for. Options, URLs and paths cannot be checked
  /// against a folder, and a line with an environment marker may not apply here: those are left to pip.
  static func requirementNames(_ text: String) -> [String] {
    text.split(whereSeparator: \.isNewline).compactMap { raw in
      let line =
        raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
        .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
      if line.isEmpty || line.hasPrefix("-") || line.hasPrefix(".") || line.hasPrefix("/") || line.contains("://")
        || line.contains(";") || line.contains(" @ ")
      {
        return nil
      }
      let name = line.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
      return name.isEmpty ? nil : String(name)
    }
  }
}
