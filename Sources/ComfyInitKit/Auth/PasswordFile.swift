// ComfyUI/login/PASSWORD: line 1 the bcrypt hash (which is also the API bearer token), line 2 the
// username. The file changes only when the credential really changed, so the token never drifts.
// This file alone knows the format (the health check and the log relay ask it for the token) and
// the rule that auth on without a credential or a PASSWORD is refused.
import Bcrypt

#if canImport(Glibc)
  import Glibc
#endif

struct PasswordFile {
  let config: Config
  var path: String { config.layout.passwordFile }

  enum Result: Equatable { case kept, written, keptExisting }

  /// Auth on, no credential, and no PASSWORD yet: serving would let the first visitor claim the
  /// server. `run` refuses before any work; `bootstrap` (an image build) defers the auth phase.
  static func wouldBeClaimable(_ config: Config) -> Bool {
    config.auth == .login && config.credential == nil && !FileSystem.exists(config.layout.passwordFile)
  }

  static func claimableRefusal(_ layout: HomeLayout) -> InitError {
    InitError(
      .credential,
      "auth is on but no credential is set and \(layout.passwordFile) does not exist; set COMFYUI_PASSWORD_FILE or COMFYUI_PASSWORD_HASH_FILE (or COMFYUI_AUTH=none). Without it the first visitor would claim the server"
    )
  }

  /// The API token: line 1 of the file at `path`, without a stray CR. nil (errno set) when it
  /// cannot be read; `noFollow`: never through a link (health as root), and only a regular file.
  static func token(at path: String, noFollow: Bool) -> String? {
    guard let bytes = FileSystem.read(path, noFollow: noFollow) else { return nil }
    return lines(String(decoding: bytes, as: UTF8.self)).first ?? ""
  }

  /// The token and the user name (line 2; `fallbackUser` when the file has none), nil when unreadable
  /// or without a token: what comfy-init hands the gate.
  static func credential(at path: String, fallbackUser: String) -> (hash: String, user: String)? {
    guard let bytes = FileSystem.read(path, noFollow: true) else { return nil }
    let all = lines(String(decoding: bytes, as: UTF8.self))
    guard let hash = all.first, !hash.isEmpty else { return nil }
    let user = all.count > 1 && !all[1].trimmingWhitespace().isEmpty ? all[1].trimmingWhitespace() : fallbackUser
    return (hash, user)
  }

  /// The file's lines, each without a trailing CR. Split on scalars: a String's "\r\n" is one
  /// Character, which a split on "\n" would not cut (a file saved on Windows was one line).
  static func lines(_ text: String) -> [String] {
    text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
      String($0).droppingLineEnd()
    }
  }

  /// The auth stamp (HomeLayout.authStamp) lets a restart skip bcrypt's ~0.3 s when nothing changed. It holds nothing
  /// derived from the password (the server's uid can read it, and a fast hash of the password would
  /// be far cheaper to brute-force than bcrypt): only which PASSWORD line was verified against which
  /// password file, identified by its inode and change times. A password from the environment has no
  /// such identity, so it is checked with bcrypt at every start.
  var verifiedStampPath: String { config.layout.authStamp }

  func ensure() throws(InitError) -> Result {
    // Only a password is ever checked against the file; no other credential leaves a stamp behind.
    if case .password = config.credential?.secret {} else { unlink(verifiedStampPath) }
    let result = try reconcile()
    if result != .written { restrictPermissions() }
    return result
  }

  /// A kept file may have been written by hand with a looser mode: the token is a secret.
  /// Through the open file, never a link: a link's target is not ours to re-mode.
  private func restrictPermissions() {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var st = stat()
    if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o077) != 0 {
      fchmod(fd, 0o600)
      Log.warn("auth: \(path) was readable by others; set its mode to 0600")
    }
  }

  private func reconcile() throws(InitError) -> Result {
    let existing = FileSystem.readState(path)
    let parsed = existing.flatMap(PasswordFile.parse)
    switch config.credential?.secret {
    case .hash(let hash):
      if let parsed, parsed.hash == hash, parsed.user == config.username, existing == render(hash) { return .kept }
      try write(hash: hash)
      return .written
    case .password(let password):
      if let parsed, parsed.user == config.username, existing == render(parsed.hash),
        verifies(password: password, hash: parsed.hash)
      {
        return .kept
      }
      let hash: String
      do { hash = try Bcrypt.hash(password: password) } catch {
        throw InitError(.credential, "cannot hash the password: \(error)")
      }
      try write(hash: hash)
      rememberVerified(hash: hash)
      return .written
    case nil:
      guard let parsed else { throw PasswordFile.claimableRefusal(config.layout) }
      if existing != render(parsed.hash) && parsed.user == config.username {
        // A stray CR or trailing newline breaks every login with ComfyUI-Login: normalise it.
        try write(hash: parsed.hash)
        Log.warn("auth: rewrote \(path) without stray CR/newline characters (same hash)")
      }
      return .keptExisting
    }
  }

  private func render(_ hash: String) -> String { hash + "\n" + config.username }

  /// (hash, user) when line 1 is a well-formed bcrypt hash, allowing a stray CR to be detected later.
  static func parse(_ text: String) -> (hash: String, user: String)? {
    let lines = PasswordFile.lines(text)
    guard let first = lines.first, Bcrypt.isWellFormed(first) else { return nil }
    let user = lines.count > 1 && !lines[1].isEmpty ? lines[1] : "admin"
    return (first, user)
  }

  private func verifies(password: String, hash: String) -> Bool {
    if let expected = stampText(hash: hash), FileSystem.readState(verifiedStampPath) == expected { return true }
    let started = Instant.now()
    guard Bcrypt.verify(password: password, hash: hash) else { return false }
    if config.credential?.fileFingerprint == nil {
      Log.info(
        "auth: checked the password against login/PASSWORD with bcrypt (\(formatDuration(started.secondsSince))); with COMFYUI_PASSWORD_FILE a restart skips this"
      )
    }
    rememberVerified(hash: hash)
    return true
  }

  /// The stamp for `hash` verified against the configured password file; nil without one.
  private func stampText(hash: String) -> String? {
    config.credential?.fileFingerprint.map {
      "comfy-init auth.stamp v2\nfile=\($0)\nhash=\(hash)\nuser=\(config.username)\n"
    }
  }

  /// Writes the stamp, or removes any stamp (an older version held a PBKDF2 of the password).
  private func rememberVerified(hash: String) {
    guard let text = stampText(hash: hash) else {
      unlink(verifiedStampPath)
      return
    }
    try? FileSystem.makeDirectories(config.layout.stateDir, mode: 0o700)
    try? FileSystem.writeAtomically(verifiedStampPath, text, mode: 0o600)
  }

  private func write(hash: String) throws(InitError) {
    let dir = FileSystem.parent(of: path)
    do {
      try FileSystem.makeDirectories(dir, mode: 0o700)
      try FileSystem.writeAtomically(path, render(hash), mode: 0o600)
    } catch {
      throw InitError(.filesystem, "cannot write \(path): \(error); make \(dir) writable")
    }
    // No chown: with PUID, comfy-init is PUID by now (Bootstrap.dropPrivileges), so the file is PUID's.
  }
}
