// .secrets/comfyui_auth_tokens.conf: the one source of truth for the ComfyUI credential (username,
// password, and its bcrypt hash, which ComfyUI-Login also uses as the API token). Folder 0700,
// file 0600. Everything else that carries the credential is derived from it (DerivedSecrets).
import Bcrypt
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct Credential: Sendable, Equatable {
  public var username: String
  public var password: String
  /// `$2b$12$...`: what login/PASSWORD holds and what API clients send as `Bearer <hash>`.
  public var hash: String
}

public struct SecretsStore: Sendable {
  static let usernameKey = "COMFYUI_USERNAME"
  static let passwordKey = "COMFYUI_PASSWORD"
  static let hashKey = "COMFYUI_PASSWORD_HASH"
  /// Long enough to need no rules about character classes: 32 of 62 symbols is about 190 bits.
  public static let generatedLength = 32

  public let project: Project

  public init(project: Project) {
    self.project = project
  }

  public var exists: Bool { FileOps.exists(project.storeFile) }

  /// Reads and checks the store: one-line errors say what is wrong with it.
  public func load() throws(CtlError) -> Credential {
    guard exists else {
      throw CtlError(.secretsMissing, "no secrets yet (\(project.storeFile)); run `comfyctl secrets init`")
    }
    let env = try EnvFile.load(project.storeFile)
    guard let username = env.value(SecretsStore.usernameKey), let password = env.value(SecretsStore.passwordKey),
      let hash = env.value(SecretsStore.hashKey)
    else {
      throw CtlError(
        .secretsInvalid,
        "\(project.storeFile) lacks COMFYUI_USERNAME, COMFYUI_PASSWORD or COMFYUI_PASSWORD_HASH; "
          + "restore it from a backup or run `comfyctl down --reset-auth` then `comfyctl secrets init`"
      )
    }
    guard Bcrypt.isWellFormed(hash) else {
      throw CtlError(
        .secretsInvalid,
        "\(project.storeFile): COMFYUI_PASSWORD_HASH is not a bcrypt hash; run `comfyctl secrets rotate`")
    }
    return Credential(username: username, password: password, hash: hash)
  }

  /// The username to keep when rotating. `load()` names rotate as the fix for a hash that is not bcrypt,
  /// so a store whose username is intact is enough here: the password and the hash are replaced anyway.
  public func usernameForRotation() throws(CtlError) -> String {
    do {
      return try load().username
    } catch {
      guard error.code == .secretsInvalid,
        let username = try? EnvFile.load(project.storeFile).value(SecretsStore.usernameKey)
      else { throw error }
      return username
    }
  }

  /// Writes the store atomically, folder 0700 and file 0600 from the first byte.
  public func save(_ credential: Credential) throws(CtlError) {
    try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
    var env = (try? EnvFile.load(project.storeFile)) ?? EnvFile()
    if env.lines.isEmpty {
      env.appendText([
        "# comfyctl secrets: the one source of the ComfyUI credential. Never edit it or the files derived",
        "# from it (.secrets/comfyui_password_hash, the tokens in .env): run `comfyctl secrets rotate`.",
      ])
    }
    env.set(SecretsStore.usernameKey, credential.username)
    env.set(SecretsStore.passwordKey, credential.password)
    env.set(SecretsStore.hashKey, credential.hash)
    try FileOps.writeAtomically(project.storeFile, env.text, mode: 0o600)
  }

  /// A new credential: the given password, or a random one; hashed with libxcrypt like comfy-init.
  public static func makeCredential(username: String, password: String? = nil) throws(CtlError) -> Credential {
    try checkUsername(username)
    let password = password ?? randomPassword()
    try checkPassword(password)
    do {
      return Credential(username: username, password: password, hash: try Bcrypt.hash(password: password))
    } catch {
      throw CtlError(.secretsInvalid, "cannot hash the password: \(error)")
    }
  }

  public static func randomPassword(length: Int = generatedLength) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    var generator = SystemRandomNumberGenerator()
    return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
  }

  static func checkUsername(_ username: String) throws(CtlError) {
    guard !username.isEmpty, !username.contains(where: { $0.isNewline || $0 == "\0" }), username.count <= 64 else {
      throw CtlError(.badInput, "the username must be one line of 1 to 64 characters, e.g. admin")
    }
  }

  /// bcrypt reads at most 72 bytes; a line break would split login/PASSWORD.
  static func checkPassword(_ password: String) throws(CtlError) {
    guard password.utf8.count >= 8, password.utf8.count <= 72 else {
      throw CtlError(.badInput, "the password must be 8 to 72 bytes (bcrypt's limit); got \(password.utf8.count)")
    }
    guard !password.contains(where: { $0.isNewline || $0 == "\0" }) else {
      throw CtlError(.badInput, "the password must be a single line")
    }
  }

  /// The password from stdin (piped; never from argv): the first line, without its line break.
  public static func readPasswordFromStandardInput() throws(CtlError) -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    var text = String(decoding: data, as: UTF8.self)
    if let newline = text.firstIndex(where: { $0 == "\n" || $0 == "\r\n" }) { text = String(text[..<newline]) }
    if text.hasSuffix("\r") { text.removeLast() }
    guard !text.isEmpty else { throw CtlError(.badInput, "--password-stdin read nothing; pipe the password in") }
    return text
  }
}

/// Creates the store when missing (`up` calls this too), and refreshes the derived files either way.
@discardableResult
func initializeSecrets(project: Project, username: String = "admin", passwordStdin: Bool = false, console: Console)
  throws(CtlError) -> Credential
{
  let store = SecretsStore(project: project)
  let derived = DerivedSecrets(project: project, settings: Settings(project: project))
  // Compose needs every secret's file: empty ones stand for "no token".
  try ModelTokens(project: project, settings: Settings(project: project)).createMissing()
  if store.exists {
    let credential = try store.load()
    let changed = try derived.write(credential)
    console.say(
      "secrets: kept \(relative(project.storeFile, project)) (init never rotates; use `comfyctl secrets rotate`)")
    for path in changed { console.say("secrets: refreshed \(relative(path, project))") }
    return credential
  }
  let password = passwordStdin ? try SecretsStore.readPasswordFromStandardInput() : nil
  let credential = try SecretsStore.makeCredential(username: username, password: password)
  try store.save(credential)
  try derived.write(credential)
  console.say("secrets: created \(relative(project.storeFile, project)) for user \(credential.username)")
  console.say(
    "secrets: derived \(relative(project.hashFile, project)) and the tokens in \(relative(project.envFile, project))")
  return credential
}
