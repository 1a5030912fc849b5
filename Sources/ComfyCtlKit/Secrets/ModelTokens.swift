// The download tokens comfy-init sends to the model hosts (Hugging Face for gated models, CivitAI): each
// a one-line file in .secrets/, 0600 and owned by the container user like the password hash (a Compose
// secret is a bind mount that keeps the host's owner and mode). Containers get them only as files,
// through comfy-init's *_TOKEN_FILE variables: never a variable holding the token, never an argument.
// Compose refuses a secret whose file is missing, so comfyctl makes an empty file where the user gave
// no token; comfy-init reads an empty token file as "no token".
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one owner of each token's names: its file in .secrets/, its Docker secret and Kubernetes Secret
/// key, its file under /run/secrets, the variable comfy-init reads the path from, and its command.
public enum ModelToken: String, CaseIterable, Sendable {
  case huggingFace = "hf_token"
  case civitai = "civitai_token"

  /// The file's name in .secrets/ and under /run/secrets, the compose secret's and the Secret's key.
  public var key: String { rawValue }
  /// `comfyctl secrets COMMAND`.
  public var command: String {
    switch self {
    case .huggingFace: return "hf-token"
    case .civitai: return "civitai-token"
    }
  }
  /// The variable that tells comfy-init where the file is (compose/docker-compose.yml, kubernetes/).
  public var fileVariable: String {
    switch self {
    case .huggingFace: return "HF_TOKEN_FILE"
    case .civitai: return "CIVITAI_TOKEN_FILE"
    }
  }
  public var containerPath: String { "/run/secrets/" + key }
  /// For people: whose token it is.
  public var host: String {
    switch self {
    case .huggingFace: return "Hugging Face"
    case .civitai: return "CivitAI"
    }
  }
}

public struct ModelTokens: Sendable {
  public let project: Project
  public let settings: Settings

  public init(project: Project, settings: Settings) {
    self.project = project
    self.settings = settings
  }

  public func path(_ token: ModelToken) -> String { project.secretsDir + "/" + token.key }

  /// The token in `text` (what stdin held): one line, white space around it trimmed. Empty input and
  /// more than one line are refused: a half-pasted token would only fail later, at a 401 from the host.
  public static func parse(_ text: String, for token: ModelToken) throws(CtlError) -> String {
    let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !value.isEmpty else {
      throw CtlError(
        .tokenInvalid,
        "stdin held no \(token.host) token; pipe it in: printf '%s' \"$TOKEN\" | comfyctl secrets \(token.command) "
          + "(or --remove for none)")
    }
    let lines = value.split(whereSeparator: \.isNewline).count
    guard lines == 1 else {
      throw CtlError(
        .tokenInvalid, "stdin held \(lines) lines; a \(token.host) token is one line: pipe in the token alone")
    }
    guard !value.contains(where: { $0.isWhitespace || $0 == "\0" }) else {
      throw CtlError(
        .tokenInvalid, "the \(token.host) token holds white space (a pasted 'Bearer ...'?); pipe in the token alone")
    }
    return value
  }

  /// Writes the token's file atomically (0600 from the first byte), owned by the container user when
  /// comfyctl runs as root; an empty `value` is "no token".
  public func save(_ value: String, for token: ModelToken) throws(CtlError) {
    try FileOps.makeDirectory(project.secretsDir, mode: 0o700)
    try FileOps.writeAtomically(path(token), value.isEmpty ? "" : value + "\n", mode: 0o600)
    if getuid() == 0 { try FileOps.changeOwner(path(token), uid: settings.uid, gid: settings.gid) }
  }

  /// An empty file for every token the user gave none, so that Compose finds each secret's file.
  /// Returns the files it made.
  @discardableResult
  public func createMissing() throws(CtlError) -> [String] {
    var made: [String] = []
    for token in ModelToken.allCases where !FileOps.exists(path(token)) {
      try save("", for: token)
      made.append(path(token))
    }
    return made
  }

  /// Whether a token is stored (a non-empty file).
  public func isSet(_ token: ModelToken) -> Bool {
    !((try? FileOps.readIfPresent(path(token))) ?? nil ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
      .isEmpty
  }

  /// The token's value, "" when none; for `secrets k8s`, which prints it into a Secret.
  public func value(_ token: ModelToken) throws(CtlError) -> String {
    (try FileOps.readIfPresent(path(token)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// `secrets check`'s rows: an absent or empty file is fine (no token); a present one must be 0600,
  /// one line, and readable by the container user.
  public func check() -> [DriftItem] {
    var items: [DriftItem] = []
    for token in ModelToken.allCases {
      let place = ".secrets/" + token.key
      guard let st = FileOps.status(path(token)) else {
        items.append(
          DriftItem(place: place, ok: true, detail: "absent: no \(token.host) token (`comfyctl up` makes it empty)"))
        continue
      }
      let text = (try? FileOps.read(path(token))) ?? ""
      let lines = text.split(whereSeparator: \.isNewline).count
      let mode = "0" + String(st.mode, radix: 8)
      if st.mode != 0o600 {
        items.append(DriftItem(place: place, ok: false, detail: "mode \(mode), want 0600; chmod 600 \(path(token))"))
      } else if lines > 1 {
        items.append(
          DriftItem(
            place: place, ok: false,
            detail: "\(lines) lines; store the token again: comfyctl secrets \(token.command) < FILE"))
      } else {
        items.append(DriftItem(place: place, ok: true, detail: lines == 0 ? "empty: no token" : "one line, mode 0600"))
      }
      let readable = st.uid == settings.uid || st.mode & 0o004 != 0
      items.append(
        DriftItem(
          place: place + " owner", ok: readable,
          detail: readable
            ? "readable by the container user \(settings.uid)"
            : "owned by uid \(st.uid): the container user \(settings.uid) cannot read it; "
              + "run `comfyctl secrets \(token.command)` as root, or set COMFYUI_UID=\(st.uid) and rebuild"))
    }
    return items
  }

  /// The token from stdin: on a terminal one line typed or pasted without echo; piped, all of it.
  public static func readStandardInput(for token: ModelToken) -> String {
    guard isatty(STDIN_FILENO) == 1 else {
      return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
    FileHandle.standardError.write(Data("Paste the \(token.host) token, then Enter (not shown): ".utf8))
    var saved = termios()
    let hidden = tcgetattr(STDIN_FILENO, &saved) == 0
    if hidden {
      var quiet = saved
      quiet.c_lflag &= ~tcflag_t(ECHO)
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
    }
    defer {
      if hidden { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
      FileHandle.standardError.write(Data("\n".utf8))
    }
    return readLine() ?? ""
  }
}
