// The files derived from the secrets store, never edited by hand:
//   .secrets/comfyui_password_hash  the hash, mounted by compose as a Docker secret (a bind mount that
//                                   keeps the host's owner and mode, so it belongs to the container user)
//   .env                            COMFYUI_BEARER_TOKEN and its alias COMFYUI_API_TOKEN for API clients,
//                                   COMFYUI_USERNAME for compose
// and the check that finds every place disagreeing with the store (drift).
import Bcrypt
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct DriftItem: Sendable, Equatable {
  public var place: String
  public var ok: Bool
  public var detail: String
}

public struct DerivedSecrets: Sendable {
  static let envHeader = [
    "", "# Derived from .secrets/comfyui_auth_tokens.conf by comfyctl: do not edit (comfyctl secrets rotate).",
  ]

  public let project: Project
  public let settings: Settings

  public init(project: Project, settings: Settings) {
    self.project = project
    self.settings = settings
  }

  /// Rewrites whatever differs from `credential`. Returns the places it changed.
  @discardableResult
  public func write(_ credential: Credential) throws(CtlError) -> [String] {
    var changed: [String] = []
    try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
    let hashText = credential.hash + "\n"
    if (try? FileOps.readIfPresent(project.hashFile)) != hashText || !hashFileHasRightOwner() {
      try FileOps.writeAtomically(project.hashFile, hashText, mode: 0o600)
      if getuid() == 0 { try FileOps.changeOwner(project.hashFile, uid: settings.uid, gid: settings.gid) }
      changed.append(project.hashFile)
    }
    var env = try EnvFile.load(project.envFile)
    let before = env
    let wanted = [
      ("COMFYUI_USERNAME", credential.username), ("COMFYUI_BEARER_TOKEN", credential.hash),
      ("COMFYUI_API_TOKEN", credential.hash),
    ]
    if wanted.allSatisfy({ env.entry($0.0) == nil }) { env.appendText(DerivedSecrets.envHeader) }
    for (key, value) in wanted where env.value(key) != value || env.duplicateKeys.contains(key) || !isQuoted(env, key) {
      env.set(key, value)
    }
    // A .env that group or others can read is rewritten too: saving makes it private.
    if env != before || FileOps.isShared(project.envFile) {
      try env.save(project.envFile)
      changed.append(project.envFile)
    }
    return changed
  }

  /// Removes the derived keys from .env (the hash file goes with the store: see `down --reset-auth`).
  public func removeTokensFromEnv() throws(CtlError) {
    var env = try EnvFile.load(project.envFile)
    let before = env
    for key in ["COMFYUI_BEARER_TOKEN", "COMFYUI_API_TOKEN"] { env.remove(key) }
    if env != before { try env.save(project.envFile) }
  }

  /// Every derived place compared with the store; `ok == false` is drift.
  public func check(_ credential: Credential) -> [DriftItem] {
    var items: [DriftItem] = []
    func add(_ place: String, _ ok: Bool, _ detail: String) {
      items.append(DriftItem(place: place, ok: ok, detail: detail))
    }

    let dirMode = FileOps.status(project.secretsDir)?.mode
    add(".secrets/", dirMode == 0o700, dirMode == 0o700 ? "mode 0700" : "mode \(octal(dirMode)), want 0700")
    items.append(checkPrivate(".secrets/comfyui_auth_tokens.conf", project.storeFile))
    let verifies = Bcrypt.verify(password: credential.password, hash: credential.hash)
    add(
      "source password/hash", verifies,
      verifies
        ? "the hash verifies the password" : "the hash does not verify the password; run `comfyctl secrets rotate`")

    let hashLine = (try? FileOps.readIfPresent(project.hashFile))?.split(separator: "\n").first.map(String.init)
    switch hashLine {
    case nil: add(".secrets/comfyui_password_hash", false, "missing")
    case credential.hash?: add(".secrets/comfyui_password_hash", true, "same hash")
    default: add(".secrets/comfyui_password_hash", false, "holds another hash")
    }
    if let st = FileOps.status(project.hashFile) {
      items.append(checkPrivate(".secrets/comfyui_password_hash mode", project.hashFile))
      let readable = st.uid == settings.uid || st.mode & 0o004 != 0
      add(
        ".secrets/comfyui_password_hash owner", readable,
        readable
          ? "readable by the container user \(settings.uid)"
          : "owned by uid \(st.uid): the container user \(settings.uid) cannot read it; "
            + "run `comfyctl secrets init` as root, or set COMFYUI_UID=\(st.uid) and rebuild"
      )
    }

    let env = try? EnvFile.load(project.envFile)
    for key in ["COMFYUI_BEARER_TOKEN", "COMFYUI_API_TOKEN", "COMFYUI_USERNAME"] {
      let want = key == "COMFYUI_USERNAME" ? credential.username : credential.hash
      let place = ".env \(key)"
      guard let env, let value = env.value(key) else {
        add(place, false, "missing")
        continue
      }
      if env.duplicateKeys.contains(key) {
        add(place, false, "set more than once")
      } else if value != want {
        add(
          place, false, key == "COMFYUI_USERNAME" ? "is '\(value)', the source says '\(want)'" : "holds another token")
      } else if !isQuoted(env, key) {
        add(place, false, "not single-quoted: Compose would expand the $ signs")
      } else {
        add(place, true, key == "COMFYUI_USERNAME" ? "same username" : "same token")
      }
    }
    for path in listEnvFilesHoldingSecrets() {
      items.append(checkPrivate(relative(path, project) + " mode", path))
    }
    return items
  }

  /// A file holding a secret that group or others can read fails, with the command that fixes it.
  private func checkPrivate(_ place: String, _ path: String) -> DriftItem {
    let mode = FileOps.status(path)?.mode
    guard FileOps.isShared(path) else { return DriftItem(place: place, ok: mode != nil, detail: "mode \(octal(mode))") }
    return DriftItem(
      place: place, ok: false, detail: "mode \(octal(mode)): group or others can read it; chmod 600 \(path)")
  }

  /// .env (the file it finally names, when it links to a consolidated master) and the backups
  /// `env consolidate` made beside either, each when it holds a secret.
  private func listEnvFilesHoldingSecrets() -> [String] {
    let target = FileOps.resolved(project.envFile)
    var paths = [target]
    for env in [project.envFile, target] {
      let dir = (env as NSString).deletingLastPathComponent
      let prefix = (env as NSString).lastPathComponent + ".bak-"
      let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
      paths += names.filter { $0.hasPrefix(prefix) }.sorted().map { dir + "/" + $0 }
    }
    var seen = Set<String>()
    return paths.filter { seen.insert(FileOps.resolved($0)).inserted && (try? EnvFile.load($0))?.holdsSecret == true }
  }

  private func hashFileHasRightOwner() -> Bool {
    guard let st = FileOps.status(project.hashFile) else { return false }
    guard st.mode == 0o600 else { return false }
    return getuid() != 0 || (st.uid == settings.uid && st.gid == settings.gid)
  }

  private func isQuoted(_ env: EnvFile, _ key: String) -> Bool {
    guard let raw = env.entry(key)?.raw else { return false }
    let value = raw.drop { $0 != "=" }.dropFirst().trimmingCharacters(in: .whitespaces)
    return value.hasPrefix("'") || !value.contains("$")
  }

  private func octal(_ mode: mode_t?) -> String {
    guard let mode else { return "missing" }
    return "0" + String(mode, radix: 8)
  }
}
