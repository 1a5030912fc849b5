// With auth on, the gate (comfy-gateway) is the only thing that listens where clients connect
// (COMFYUI_LISTEN:COMFYUI_PORT); ComfyUI listens on 127.0.0.1:internalPort and never elsewhere.
#if canImport(Glibc)
  import Glibc
#endif

public struct GateSettings: Equatable, Sendable {
  public static let defaultInternalPort = 18188
  public var internalPort = GateSettings.defaultInternalPort
  /// COMFYUI_GATEWAY; nil: comfy-gateway beside comfy-init's own binary.
  public var binary: String? = nil
  public var tlsCert: String? = nil
  public var tlsKey: String? = nil
  public var trustedProxies: [String] = []
  public var sessionMaxAge = 7 * 24 * 3600

  /// What one variable alone cannot say: asked by `run` right after the configuration is read, before
  /// anything touches the disk.
  public func validate() throws(InitError) {
    guard (tlsCert == nil) == (tlsKey == nil) else {
      throw InitError(.config, "COMFYUI_TLS_CERT and COMFYUI_TLS_KEY go together: set both (PEM files) or neither")
    }
  }

  /// The gate's binary: COMFYUI_GATEWAY, else the file beside the running comfy-init.
  public var binaryPath: String {
    if let binary { return binary }
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return "/usr/local/bin/comfy-gateway" }
    let own = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return FileSystem.parent(of: own) + "/comfy-gateway"
  }

  /// The uid the gate runs as when comfy-init starts as root: not the server's, so the server's code
  /// cannot signal it or read its memory. 65534 is nobody; 65533 when the server itself is 65534.
  public static func uid(besides serverUID: uid_t) -> uid_t { serverUID == 65534 ? 65533 : 65534 }
}
