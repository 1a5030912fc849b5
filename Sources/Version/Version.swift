// What comfy-init and comfyctl are: one version number for both, and the commit they were built from.
// No Foundation: comfy-init links this.
import CVersion

public enum Version {
  /// The release number; bump it here only (scripts/package names the tarball after it).
  public static let number = "0.1.0"

  /// The git commit scripts/build built from, "-dirty" when tracked files differed; "unknown" for a
  /// plain `swift build`.
  public static var commit: String { String(cString: comfy_init_commit()) }

  /// Where the source lives (the image's org.opencontainers.image.source): the https URL of the
  /// checkout's origin remote at build time, "" when it had none.
  public static var source: String { String(cString: comfy_init_source()) }

  /// "0.1.0 (commit abc1234)": what `comfy-init version` and `comfyctl --version` print after the name.
  public static var description: String { "\(number) (commit \(commit))" }
}
