// What a comfy-init binary says it is, read by running `comfy-init version`: the image's OCI labels
// come from the binary that goes into it, not from comfyctl, so they stay true when the two differ.
import Foundation
import Version

public struct InitBinary: Equatable, Sendable {
  public var version: String
  public var commit: String

  /// "0.1.0 (commit abc1234)", as both programs print it.
  public var description: String { "\(version) (commit \(commit))" }

  /// The OCI labels the Dockerfile's runtime stage sets from these build arguments.
  var labelArguments: [(String, String)] {
    [("COMFY_INIT_VERSION", version), ("COMFY_INIT_REVISION", commit), ("COMFY_INIT_SOURCE", Version.source)]
  }

  /// comfyctl itself.
  public static var current: InitBinary { InitBinary(version: Version.number, commit: Version.commit) }

  /// Runs `path version` (the binary is static and runs on any Linux host of its architecture).
  public static func identify(_ path: String) throws(CtlError) -> InitBinary {
    let result = try? ProcessRunner.capture([path, "version"])
    guard let result, result.succeeded, let identity = parse(result.stdout) else {
      throw CtlError(
        .buildFailed,
        "\(path) version did not answer with its version (\(result?.lastLine ?? "it did not run")); "
          + "is it a comfy-init for this machine's architecture?")
    }
    return identity
  }

  /// Reads "comfy-init 0.1.0 (commit abc1234) ComfyUI v0.8.0 by default".
  static func parse(_ line: String) -> InitBinary? {
    let words = line.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    guard words.count >= 4, words[0] == "comfy-init", words[2] == "(commit", words[3].hasSuffix(")") else {
      return nil
    }
    return InitBinary(version: words[1], commit: String(words[3].dropLast()))
  }

  /// The image's labels (nil: no such image, or built before images carried them).
  public static func ofImage(_ image: String) -> InitBinary? {
    let format =
      "{{index .Config.Labels \"org.opencontainers.image.version\"}} "
      + "{{index .Config.Labels \"org.opencontainers.image.revision\"}}"
    guard let result = try? ProcessRunner.capture(["docker", "image", "inspect", "--format", format, image]),
      result.succeeded
    else { return nil }
    let words = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    guard words.count == 2, !words.contains("<no"), !words[0].hasPrefix("<") else { return nil }
    return InitBinary(version: words[0], commit: words[1])
  }

  /// Whether an image built from `other` belongs with this comfyctl: same version and, where both know
  /// it, the same commit.
  public func matches(_ other: InitBinary) -> Bool {
    version == other.version && (commit == other.commit || commit == "unknown" || other.commit == "unknown")
  }
}
