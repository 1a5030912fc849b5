// The credential the configuration supplies: COMFYUI_PASSWORD_HASH, COMFYUI_PASSWORD_HASH_FILE,
// COMFYUI_PASSWORD or COMFYUI_PASSWORD_FILE (exactly one), read and checked here. A file's
// fingerprint (never its content) lets a restart whose file did not change skip the bcrypt check
// against login/PASSWORD (PasswordFile's auth.stamp).
import Bcrypt

#if canImport(Glibc)
  import Glibc
#endif

public enum Credential: Equatable, Sendable {
  case password(String)
  case hash(String)
}

public struct SuppliedCredential: Equatable, Sendable {
  public var secret: Credential
  /// The variable it came from (for the redacted log line).
  public var source: String
  /// For a credential read from a file that did not change while it was read: that file's identity
  /// and change times. nil otherwise.
  public var fileFingerprint: String?

  /// The variables that supply a credential; more than one set is an error.
  static let variables = [
    "COMFYUI_PASSWORD_HASH", "COMFYUI_PASSWORD_HASH_FILE", "COMFYUI_PASSWORD", "COMFYUI_PASSWORD_FILE",
  ]

  /// `set`: each of `variables` that is set and not empty, with its value (Config.load asks).
  static func read(_ set: [(name: String, value: String)]) throws(InitError) -> SuppliedCredential? {
    guard set.count <= 1 else {
      throw InitError(
        .credential, "\(set.map(\.name).joined(separator: " and ")) are all set; keep exactly one credential source")
    }
    guard let (source, value) = set.first else { return nil }
    var text = value
    var vouched: String? = nil
    if source.hasSuffix("_FILE") {
      let before = fingerprint(ofFile: value)
      guard let bytes = FileSystem.read(value) else {
        throw InitError(
          .credential,
          "\(source)=\(value) cannot be read (\(String(cString: strerror(errno)))); mount the secret file there or fix the path"
        )
      }
      // Only a file that did not change while it was read vouches for what was read.
      if let before, before == fingerprint(ofFile: value) { vouched = before }
      // Secret files usually end with a newline (a Windows one too) that is not part of the secret.
      text = String(decoding: bytes, as: UTF8.self).droppingLineEnds()
    }
    if source.hasPrefix("COMFYUI_PASSWORD_HASH") {
      // A hash file may also carry the username on line 2, as login/PASSWORD does (and its lines).
      let hash = (PasswordFile.lines(text).first ?? "").trimmingWhitespace()
      guard Bcrypt.isWellFormed(hash) else {
        throw InitError(
          .credential,
          "\(source) does not hold a bcrypt hash ($2b$12$ and 53 more characters); make one with `comfy-init hash-password`"
        )
      }
      return SuppliedCredential(secret: .hash(hash), source: source, fileFingerprint: vouched)
    }
    guard !text.isEmpty else {
      throw InitError(.credential, "\(source) is empty; set a password or use COMFYUI_AUTH=none")
    }
    guard text.utf8.count <= 72, !text.contains("\0") else {
      throw InitError(.credential, "\(source) is longer than bcrypt's 72 bytes; use a shorter password")
    }
    return SuppliedCredential(secret: .password(text), source: source, fileFingerprint: vouched)
  }

  /// Device, inode, size and change times of a file: any rewrite, `cp -p` and a Kubernetes secret
  /// update included, changes at least one of them.
  static func fingerprint(ofFile path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):"
      + "\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
  }
}
