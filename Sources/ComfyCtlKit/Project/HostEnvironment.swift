// comfyctl's one reader of its own environment: what it passes on to the tools it runs (docker), the
// settings' defaults (Settings), where to look for programs, the project folder, libcurl's CA bundle.
import Foundation
import HTTPClient

public enum HostEnvironment {
  /// Captured once: every child and every setting sees the same values.
  public static let variables = ProcessInfo.processInfo.environment

  /// Where programs are looked for.
  static var searchPath: String { variables["PATH"] ?? "/usr/local/bin:/usr/bin:/bin" }

  /// COMFYCTL_PROJECT_DIR: the deployment folder when --project-dir is not given.
  static var projectDir: String? { variables["COMFYCTL_PROJECT_DIR"] }

  /// Hands libcurl the CA bundle curl's own variables name (CURL_CA_BUNDLE, then SSL_CERT_FILE).
  static func configureHTTP() {
    CABundle.use(["CURL_CA_BUNDLE", "SSL_CERT_FILE"].lazy.compactMap { variables[$0] }.first { !$0.isEmpty })
  }
}
