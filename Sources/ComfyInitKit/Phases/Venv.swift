// The Python venv. A stamp inside it fingerprints everything that decides its content; when the
// fingerprint matches, no Python or pip process runs at all.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct Venv {
  let config: Config
  let runner: ToolRunner
  var layout: HomeLayout { config.layout }
  var stampPath: String { layout.venvStamp }
  var installingMarker: String { layout.venvInstallingMarker }
  var creatingMarker: String { layout.venvCreatingMarker }

  /// Requirement files: ComfyUI's, then every enabled custom node's, in name order.
  func requirementFiles() -> [String] {
    var files = [layout.comfyRequirements]
    for name in FileSystem.list(layout.customNodesDir) where CustomNodes.isEnabled(name) {
      let file = layout.requirements(ofNode: name)
      if FileSystem.exists(file) { files.append(file) }
    }
    return files.filter(FileSystem.exists)
  }

  /// Hex SHA-256 over the python the venv runs on, every requirement file's bytes, the extras
  /// and the installer variables.
  func fingerprint(requirements: [String]) -> String {
    let hasher = SHA256()
    hasher.updateField("comfy-init venv v1")
    hasher.updateField(FileSystem.readText(layout.pyvenvConfig) ?? "")
    for file in requirements {
      hasher.updateField(file)
      hasher.update(FileSystem.read(file) ?? [])
    }
    hasher.updateField(config.pipExtra.joined(separator: "\n"))
    for name in InstallerSettings.variables {
      hasher.updateField(name + "=" + (config.installer.values[name] ?? ""))
    }
    // Only when set: a venv made before this variable existed keeps its fingerprint.
    if let torchIndex = config.installer.torchIndexURL { hasher.updateField("COMFYUI_TORCH_INDEX_URL=" + torchIndex) }
    return hex(hasher.finalize())
  }

  /// True when nothing needs to run.
  func isCurrent() -> Bool {
    guard FileSystem.isExecutable(layout.python), !FileSystem.exists(installingMarker),
      !FileSystem.exists(creatingMarker), let stamp = FileSystem.readState(stampPath)
    else { return false }
    return stamp.split(separator: "\n").first.map(String.init) == fingerprint(requirements: requirementFiles())
  }

  /// uv when COMFYUI_INSTALLER allows it and it is on PATH; nil means pip.
  func uvPath() throws(InitError) -> String? {
    switch config.installer.choice {
    case .pip: return nil
    case .auto: return runner.which("uv")
    case .uv:
      guard let uv = runner.which("uv") else {
        throw InitError(
          .install, "COMFYUI_INSTALLER=uv but uv is not on PATH; install uv or use COMFYUI_INSTALLER=auto")
      }
      return uv
    }
  }

  /// Creates or repairs the venv and installs everything into it.
  func ensure() throws {
    let requirements = requirementFiles()
    try refuseOptions(in: requirements)
    let uv = try uvPath()
    try createIfNeeded()
    let fingerprint = fingerprint(requirements: requirements)
    if FileSystem.exists(installingMarker) {
      Log.info("venv: the last install did not finish (crash or stop); repairing")
    }
    try? FileSystem.writeAtomically(installingMarker, "install started by pid \(getpid())\n")
    unlink(stampPath)
    try install(requirements: requirements, uv: uv)
    do {
      var stamp = fingerprint + "\n"
      stamp += requirements.map { "requirements: " + $0 }.joined(separator: "\n") + "\n"
      stamp += "extras: " + config.pipExtra.joined(separator: " ") + "\n"
      try FileSystem.writeAtomically(stampPath, stamp)
      unlink(installingMarker)
    } catch {
      throw InitError(.filesystem, "cannot write \(stampPath): \(error)")
    }
  }

  /// A custom node's requirements.txt may list requirements only. An option line (-r, -c, -e, -i,
  /// --index-url, --extra-index-url, -f, --trusted-host, ...) or a per-requirement option other
  /// than --hash would change the whole install: another index for every package, code from
  /// anywhere. ComfyUI's own file (at the pinned ref) is trusted.
  private func refuseOptions(in files: [String]) throws(InitError) {
    for file in files where file != layout.comfyRequirements {
      if let line = Venv.optionLine(FileSystem.readText(file) ?? "") {
        let node = FileSystem.baseName(of: FileSystem.parent(of: file))
        throw InitError(
          .customNode,
          "custom node \(node): requirements.txt has the option line '\(line)', which comfy-init refuses (it would change the whole install); remove it from \(file) (packages can go in COMFYUI_PIP_EXTRA, indexes in PIP_INDEX_URL/PIP_EXTRA_INDEX_URL)"
        )
      }
    }
  }

  /// The first line holding an option: a word starting with "-" before a comment ("#" after a
  /// space or at the start, as pip reads it), other than --hash.
  static func optionLine(_ text: String) -> String? {
    for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
      for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
        if word.hasPrefix("#") { break }
        if word.hasPrefix("-") && !word.hasPrefix("--hash") { return String(line).trimmingWhitespace() }
      }
    }
    return nil
  }

  /// Always `python3 -m venv`, also when uv installs: the venv keeps its own pip, which ComfyUI-Manager
  /// and other custom nodes call to install their dependencies.
  private func createIfNeeded() throws {
    let venv = config.venv
    if FileSystem.exists(creatingMarker) {
      // Killed while `python3 -m venv` ran: pip may be half there (its __main__.py without
      // pip/_internal/utils), which no later start could tell from a working one.
      try moveAside(because: "its creation did not finish (crash, stop or full disk)")
    } else if FileSystem.isExecutable(layout.python) {
      if hasPip() { return }
      // A venv made before the marker existed, whose creation was cut short: running venv again
      // over the same folder finishes the job and keeps whatever is installed.
      Log.info("venv: \(venv) has no pip (its creation was cut short); completing it")
      try create(explain: "cannot complete the venv at \(venv)")
      return
    } else if FileSystem.exists(layout.pyvenvConfig) {
      // Its python is gone (the base interpreter changed or a crash cut creation short).
      try moveAside(because: "it has no working python")
    } else if FileSystem.exists(venv) && !FileSystem.list(venv).isEmpty {
      throw InitError(
        .python,
        "COMFYUI_VENV=\(venv) exists but is not a Python venv (no pyvenv.cfg); move it away or point COMFYUI_VENV elsewhere"
      )
    }
    try create(
      explain:
        "cannot create a venv at \(venv); install python3-venv (Debian/Ubuntu) and check the folder is writable")
  }

  /// `python3 -m venv` behind the creating marker, which goes only once the venv's own pip answers.
  private func create(explain: String) throws {
    guard let python3 = runner.which("python3") else {
      throw InitError(.python, "python3 is not on PATH; install python3 and python3-venv in the image")
    }
    do {
      try FileSystem.makeDirectories(config.venv)
      try FileSystem.writeAtomically(creatingMarker, "venv creation started by pid \(getpid())\n")
    } catch {
      throw InitError(.filesystem, "cannot create the venv at \(config.venv): \(error); make the folder writable")
    }
    try runner.check([python3, "-m", "venv", config.venv], failure: .python, explain: explain)
    try runner.check(
      [layout.python, "-m", "pip", "--version"], capture: true, failure: .python,
      explain: "the new venv at \(config.venv) has no working pip; install python3-venv (Debian/Ubuntu)")
    unlink(creatingMarker)
  }

  /// Keeps the old folder for inspection (never deleted); a new venv is built in its place.
  private func moveAside(because reason: String) throws(InitError) {
    let venv = config.venv
    guard let aside = FileSystem.moveAside(venv) else {
      throw InitError(
        .python,
        "the venv at \(venv) is broken (\(reason)) and cannot be moved aside: \(String(cString: strerror(errno))); move it away"
      )
    }
    Log.warn("venv at \(venv): \(reason); moved it to \(aside) and building a new one")
  }

  /// pip is whole when its package folder exists under lib/pythonX.Y/site-packages and its install
  /// finished: pip writes its dist-info's RECORD last.
  private func hasPip() -> Bool {
    layout.sitePackages.contains { site in
      FileSystem.exists(site + "/pip/__init__.py")
        && FileSystem.list(site).contains { $0.hasPrefix("pip-") && FileSystem.exists(site + "/" + $0 + "/RECORD") }
    }
  }

  private func install(requirements: [String], uv: String?) throws {
    let installer = config.installer
    let offline = config.offline
    if offline && !installer.hasFindLinks {
      throw InitError(
        .offline,
        "the venv needs installing but COMFYUI_OFFLINE=1 forbids the network; set PIP_FIND_LINKS to a wheel folder or unset COMFYUI_OFFLINE"
      )
    }
    try dropTorchFromAnotherIndex(uv: uv)
    try installTorch(uv: uv)
    var args: [String]
    if let uv {
      args = [uv, "pip", "install", "--python", layout.python]
      // uv reads no PIP_* variables: pass the index settings as flags.
      if let index = installer.pipIndexURL, !installer.uvSetsIndex { args += ["--index-url", index] }
      if !installer.uvSetsExtraIndex {
        for url in installer.pipExtraIndexURLs { args += ["--extra-index-url", url] }
      }
      if !installer.uvSetsFindLinks {
        for link in installer.pipFindLinks { args += ["--find-links", link] }
      }
      if offline || installer.pipNoIndex { args.append("--no-index") }
    } else {
      args = [layout.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
      if offline { args.append("--no-index") }
    }
    // Already installed from COMFYUI_TORCH_INDEX_URL, torch satisfies the requirement: neither pip nor
    // uv upgrades a satisfied requirement without --upgrade, so a higher version elsewhere cannot win.
    for file in requirements { args += ["-r", file] }
    args += config.pipExtra
    Log.info(
      "venv: installing \(requirements.count) requirement file(s) and \(config.pipExtra.count) extra(s) with \(FileSystem.baseName(of: args[0]) == "uv" ? "uv" : "pip")"
    )
    try runner.check(
      args, in: config.home, failure: .install,
      explain:
        "installing the requirements into \(config.venv) failed; read the installer's message above, fix the requirement or the index (PIP_INDEX_URL, PIP_FIND_LINKS), then restart"
    )
  }

  /// The names an index for torch serves: the packages built against one CUDA variant.
  static let torchPackages: Set<String> = ["torch", "torchvision", "torchaudio"]

  /// The lines of a requirements file that name torch, torchvision or torchaudio, as written (a
  /// version specifier stays), comments cut off.
  static func torchRequirements(in text: String) -> [String] {
    var found: [String] = []
    for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
      var line = Substring(rawLine)
      if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
      let requirement = String(line).trimmingWhitespace()
      // The name ends where a version specifier, extra, marker or URL begins.
      let name = requirement.prefix { !"<>=!~;[@ \t".contains($0) }
      if torchPackages.contains(String(name).lowercased()) { found.append(requirement) }
    }
    return found
  }

  /// The torch packages installed in the venv (their dist-info folders).
  private func installedTorchPackages() -> [String] {
    let folders = layout.sitePackages.flatMap(FileSystem.list)
    return Venv.torchPackages.sorted().filter { name in
      folders.contains { $0.hasPrefix(name + "-") && $0.hasSuffix(".dist-info") }
    }
  }

  /// Neither pip nor uv replaces a satisfied requirement: torch installed from another index (or the
  /// default one) than COMFYUI_TORCH_INDEX_URL now names would stay. It goes first. (Its CUDA libraries,
  /// other packages, stay unused.)
  private func dropTorchFromAnotherIndex(uv: String?) throws {
    let wanted = config.installer.torchIndexURL
    let recorded = FileSystem.readState(layout.venvTorchIndex).map { $0.trimmingWhitespace() }
    guard recorded != wanted else { return }
    let installed = installedTorchPackages()
    if !installed.isEmpty {
      let from = recorded.map { "COMFYUI_TORCH_INDEX_URL=" + redactURL($0) } ?? "the default index"
      Log.info("venv: \(installed.joined(separator: " ")) came from \(from); uninstalling them first")
      let args =
        uv.map { [$0, "pip", "uninstall", "--python", layout.python] }
        ?? [layout.python, "-m", "pip", "uninstall", "--disable-pip-version-check", "--yes"]
      try runner.check(
        args + installed, in: config.home, failure: .install,
        explain: "cannot uninstall \(installed.joined(separator: ", ")) from \(config.venv)")
    }
    unlink(layout.venvTorchIndex)
  }

  /// With COMFYUI_TORCH_INDEX_URL, the torch packages ComfyUI's requirements.txt names come from that
  /// index alone, before anything else: no other index, wheel folder or config variable of the
  /// installer's takes part, so a torch built for another CUDA cannot be picked because its version
  /// is higher.
  private func installTorch(uv: String?) throws {
    guard let index = config.installer.torchIndexURL else { return }
    let wanted = Venv.torchRequirements(in: FileSystem.readText(layout.comfyRequirements) ?? "")
    guard !wanted.isEmpty else {
      Log.info("venv: COMFYUI_TORCH_INDEX_URL is set but ComfyUI's requirements.txt names no torch package")
      return
    }
    if config.offline && !index.hasPrefix("file:") {
      throw InitError(
        .offline,
        "COMFYUI_TORCH_INDEX_URL=\(redactURL(index)) needs the network but COMFYUI_OFFLINE=1 forbids it; use a file:// index or unset COMFYUI_OFFLINE"
      )
    }
    var args: [String]
    var unset: [String]
    var override: [String: String] = [:]
    if let uv {
      args = [uv, "pip", "install", "--python", layout.python, "--index-url", index]
      unset = ["UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS", "UV_NO_INDEX"]
    } else {
      args = [layout.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--index-url", index]
      unset = ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"]
      // No config file either: the image build passes its wheel folder and no-index in one, and pip
      // ignores an empty variable that would override it. (PIP_CERT, PIP_PROXY and the like still apply.)
      override = ["PIP_CONFIG_FILE": "/dev/null"]
    }
    args += wanted
    Log.info("venv: installing \(wanted.joined(separator: " ")) from COMFYUI_TORCH_INDEX_URL=\(redactURL(index))")
    try runner.check(
      args, in: config.home, extraEnvironment: override, unsetting: unset, failure: .install,
      explain:
        "installing \(wanted.joined(separator: ", ")) from COMFYUI_TORCH_INDEX_URL=\(redactURL(index)) failed; check the URL is PyTorch's index for a CUDA variant (as pytorch.org's install selector shows it), then restart"
    )
    do { try FileSystem.writeAtomically(layout.venvTorchIndex, index + "\n") } catch {
      throw InitError(.filesystem, "cannot write \(layout.venvTorchIndex): \(error)")
    }
  }
}
