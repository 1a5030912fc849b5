// The one rule for "does this name hold a secret": .env keys (file modes, masked values in messages,
// `secrets check`) and `build --build-arg` names (refused: build arguments stay in `docker history`).

public enum SecretKey {
  /// Words that mark a secret anywhere in a name, in any case.
  static let words = ["TOKEN", "PASSWORD", "SECRET", "KEY", "HASH"]

  /// A name that holds a secret by convention: one of `words` anywhere in it. `..._FILE` names, which
  /// point at a secret's file, count too: a key that looked secret to either of the two lists comfyctl
  /// once had stays secret, and treating a path as secret costs only a tighter mode or a masked value.
  public static func isSecret(_ name: String) -> Bool {
    let upper = name.uppercased()
    return words.contains { upper.contains($0) }
  }
}
