// The project's non-secret settings: the process environment first, then the project's .env, then
// defaults; the same precedence Compose uses when it interpolates the compose files.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One ComfyUI service of compose/docker-compose.yml.
public struct Instance: Sendable, Equatable {
  public var service: String
  /// nil: always started; otherwise `comfyctl up --profile NAME` adds it.
  public var profile: String?
  public var portVariable: String
  public var defaultPort: Int

  /// COMFYUI for the main instance, COMFYUI_FLUX for the flux profile's: the prefix of its variables
  /// in compose/docker-compose.yml (PORT, GPU_DEVICES, MODELS_MANIFEST, MODELS_VOLUME).
  public var variablePrefix: String { String(portVariable.dropLast(portVariable.hasSuffix("_HOST_PORT") ? 10 : 5)) }
  /// The variable that gives this instance a models volume of its own; the main instance's names the
  /// shared one (COMFYUI_MODELS_VOLUME), which every other instance mounts unless its own is set.
  public var modelsVolumeVariable: String { variablePrefix + "_MODELS_VOLUME" }

  public static let all: [Instance] = [
    Instance(service: "comfyui", profile: nil, portVariable: "COMFYUI_HOST_PORT", defaultPort: 8188),
    Instance(
      service: "comfyui-qwen-image-edit", profile: "qwen-image-edit", portVariable: "COMFYUI_QWEN_IMAGE_EDIT_PORT",
      defaultPort: 8189),
    Instance(service: "comfyui-flux", profile: "flux", portVariable: "COMFYUI_FLUX_PORT", defaultPort: 8190),
    Instance(service: "comfyui-sd35", profile: "sd35", portVariable: "COMFYUI_SD35_PORT", defaultPort: 8191),
  ]

  public static var profiles: [String] { all.compactMap(\.profile) }
}

public struct Settings: Sendable {
  public static let defaultImage = "comfy-init/comfyui:latest"

  var values: [String: String]

  public init(project: Project, environment: [String: String] = HostEnvironment.variables) {
    var merged: [String: String] = [:]
    if let env = try? EnvFile.load(project.envFile) {
      for entry in env.entries { merged[entry.key] = entry.value }
    }
    for (key, value) in environment { merged[key] = value }
    values = merged
  }

  public func value(_ key: String) -> String? {
    guard let value = values[key], !value.isEmpty else { return nil }
    return value
  }

  public var image: String { value("COMFYUI_IMAGE") ?? Settings.defaultImage }
  public var baseImage: String? { value("COMFYUI_BASE_IMAGE") }
  public var bindAddress: String { value("COMFYUI_BIND") ?? "127.0.0.1" }
  /// COMFYUI_CPU=1 in .env makes --cpu the default (machines without an NVIDIA GPU).
  public var cpuOnly: Bool { Settings.isTrue(value("COMFYUI_CPU")) }

  /// The words comfy-init's Config accepts as true (1, true, yes, on; any case). comfyctl is another
  /// module, so it keeps its own copy; anything else is false here, where comfy-init would refuse it.
  static func isTrue(_ text: String?) -> Bool {
    guard let text else { return false }
    return ["1", "true", "yes", "on"].contains(text.trimmingCharacters(in: .whitespaces).lowercased())
  }

  /// The container user. As root, 1000 (the image default; comfyctl hands it the secret file);
  /// otherwise the caller's own uid, so that the secret file it owns is readable in the container.
  public var uid: uid_t {
    if let text = value("COMFYUI_UID"), let id = uid_t(text) { return id }
    return getuid() == 0 ? 1000 : getuid()
  }
  public var gid: gid_t {
    if let text = value("COMFYUI_GID"), let id = gid_t(text) { return id }
    return getuid() == 0 ? 1000 : getgid()
  }

  public func port(of instance: Instance) -> Int {
    value(instance.portVariable).flatMap { Int($0) } ?? instance.defaultPort
  }

  /// The URL a client on this machine uses.
  public func url(of instance: Instance) -> String {
    let host = ["0.0.0.0", "::", "[::]", ""].contains(bindAddress) ? "127.0.0.1" : bindAddress
    let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    return "http://\(shown):\(port(of: instance))"
  }
}
