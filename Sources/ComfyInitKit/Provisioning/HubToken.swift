// A download token: Hugging Face's (HF_TOKEN, HF_TOKEN_FILE, HF_API_TOKEN: the first one set wins) or
// CivitAI's (CIVITAI_TOKEN, CIVITAI_TOKEN_FILE), read when
// the configuration is (as the user comfy-init started as: root before a PUID drop can read a
// root-only secret). A token that cannot be used is reported only when a download needs it: a token
// file need not be mounted once every model is in place (TokenPolicy throws then).

public enum HubToken: Equatable, Sendable {
  case none
  case token(String, source: String)
  /// Set, but unreadable or not one line: the message says which and how to fix it.
  case unusable(String)

  /// The variables in the order they are asked; the first one set decides.
  static let variables = ["HF_TOKEN", "HF_TOKEN_FILE", "HF_API_TOKEN"]
  static let civitaiVariables = ["CIVITAI_TOKEN", "CIVITAI_TOKEN_FILE"]

  /// `name` is the first of `variables` that is set, `value` its value (Config.load asks).
  static func read(name: String, value: String) -> HubToken {
    var token = value.trimmingWhitespace()
    if name.hasSuffix("_FILE") {
      guard let text = FileSystem.readText(value) else {
        return .unusable("\(name)=\(value) cannot be read; mount the token file there or fix the path")
      }
      token = text.trimmingWhitespace()
      // Deployments mount the secret file always, empty when the user gave no token.
      if token.isEmpty { return .none }
    }
    guard !token.isEmpty, !token.contains(where: { $0.isNewline || $0 == "\0" }) else {
      return .unusable("\(name) must hold one token on one line; fix its value")
    }
    return .token(token, source: name)
  }
}
