// The project folder: where compose/ lives, and with it .secrets/, .env, the Dockerfile and comfy-init.
// Two layouts: a checkout (scripts/build wrote dist/comfy-init) and the bundle scripts/package makes
// (comfy-init beside comfyctl, no dist/). Both are deployment folders; initBinaryPath tells them apart.
import Foundation

public struct Project: Sendable {
  public static let composeFile = "compose/docker-compose.yml"
  public static let cpuComposeFile = "compose/docker-compose.cpu.yml"

  public let root: String

  public init(root: String) {
    self.root = root
  }

  public var secretsDir: String { root + "/.secrets" }
  /// The one source of truth: username, password and hash.
  public var storeFile: String { secretsDir + "/comfyui_auth_tokens.conf" }
  /// Derived: the hash that compose mounts as the Docker secret `comfyui_password_hash`.
  public var hashFile: String { secretsDir + "/comfyui_password_hash" }
  /// Derived tokens for API clients, and the settings compose interpolates.
  public var envFile: String { root + "/.env" }
  public var dockerContext: String { root + "/.cache/docker-context" }
  /// The static comfy-init the image gets, relative to the root (the build context): dist/comfy-init in
  /// a checkout, comfy-init in a bundle. The Dockerfile copies whatever this names (COMFY_INIT_BINARY).
  public var initBinaryPath: String {
    let candidates = ["dist/comfy-init", "comfy-init"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: root + "/" + $0) } ?? candidates[0]
  }
  public var initBinary: String { root + "/" + initBinaryPath }
  /// The gate (comfy-gateway) the image gets beside comfy-init, chosen the same way (COMFY_GATEWAY_BINARY).
  public var gatewayBinaryPath: String {
    let candidates = ["dist/comfy-gateway", "comfy-gateway"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: root + "/" + $0) } ?? candidates[0]
  }

  /// `--project-dir` when given, else the nearest folder at or above the current one holding compose/.
  public static func locate(explicit: String?, from current: String = FileManager.default.currentDirectoryPath)
    throws(CtlError) -> Project
  {
    if let explicit {
      let root = absolutePath(explicit, relativeTo: current)
      guard isProject(root) else {
        throw CtlError(
          .projectNotFound,
          "--project-dir \(explicit) has no \(composeFile); point it at the comfy-init checkout or bundle")
      }
      return Project(root: root)
    }
    var dir = URL(fileURLWithPath: current).standardizedFileURL
    while true {
      if isProject(dir.path) { return Project(root: dir.path) }
      let parent = dir.deletingLastPathComponent()
      if parent.path == dir.path { break }
      dir = parent
    }
    throw CtlError(
      .projectNotFound,
      "no \(composeFile) here or in any parent folder; cd into the comfy-init checkout or bundle, or pass --project-dir"
    )
  }

  static func isProject(_ dir: String) -> Bool {
    FileManager.default.fileExists(atPath: dir + "/" + composeFile)
  }
}

func absolutePath(_ path: String, relativeTo base: String = FileManager.default.currentDirectoryPath) -> String {
  let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: base).appendingPathComponent(path)
  return url.standardizedFileURL.path
}

/// `path` relative to the project's root when it lies inside, for messages.
func relative(_ path: String, _ project: Project) -> String {
  path.hasPrefix(project.root + "/") ? String(path.dropFirst(project.root.count + 1)) : path
}
