// What `comfyctl up` checks before it starts anything, each with a one-line message saying how to fix it.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public enum Prerequisites {
  public static func checkEngine() throws(CtlError) {
    if let problem = Docker.engineProblem() { throw CtlError(.dockerUnavailable, problem) }
  }

  /// Compose v2 (the `docker compose` plugin); v1's `docker-compose` lacks profiles and `!reset`.
  public static func checkCompose() throws(CtlError) {
    let result = try? ProcessRunner.capture(["docker", "compose", "version", "--short"])
    let version = result?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    guard let result, result.succeeded, version.hasPrefix("2") || version.hasPrefix("v2") else {
      throw CtlError(
        .composeMissing,
        "Docker Compose v2 is missing (`docker compose version` \(version.isEmpty ? "failed" : "says \(version)")); "
          + "install the compose plugin (scripts/docker-engine)"
      )
    }
  }

  /// A GPU reservation needs NVIDIA's container runtime (nvidia-container-toolkit) in the engine, or
  /// Docker Desktop on WSL2, whose engine lists no `nvidia` runtime yet passes `--gpus` to the Windows
  /// driver through WSL's GPU paravirtualisation (docs/windows-wsl.md). One `docker info`: a trial
  /// container with `--gpus` would be exact but costs seconds and needs the image first.
  public static func checkGPURuntime() throws(CtlError) {
    let info = try? ProcessRunner.capture([
      "docker", "info", "--format", "{{json .Runtimes}}\n{{.OperatingSystem}}\n{{.KernelVersion}}",
    ])
    let lines = (info?.stdout ?? "").split(separator: "\n").map(String.init)
    if lines.first?.contains("nvidia") == true { return }
    if lines.count >= 3, isDockerDesktopOnWSL2(operatingSystem: lines[1], kernel: lines[2]) { return }
    if ProcessRunner.which("nvidia-container-runtime-hook") != nil || ProcessRunner.which("nvidia-ctk") != nil {
      return
    }
    throw CtlError(
      .gpuRuntimeMissing,
      "the Docker engine has no NVIDIA runtime; install nvidia-container-toolkit and restart dockerd, "
        + "or use `comfyctl up --cpu` (or COMFYUI_CPU=1 in .env)"
    )
  }

  /// Docker Desktop says "Docker Desktop" as its operating system; its WSL2 backend runs on Microsoft's
  /// kernel ("6.6.87.2-microsoft-standard-WSL2"). Desktop on macOS (linuxkit) has no GPU to give.
  static func isDockerDesktopOnWSL2(operatingSystem: String, kernel: String) -> Bool {
    operatingSystem.contains("Docker Desktop") && kernel.lowercased().contains("microsoft-standard-wsl2")
  }

  /// Fails when another program holds `address:port`.
  public static func checkPortFree(address: String, port: Int, variable: String) throws(CtlError) {
    guard isPortInUse(address: address, port: port) else { return }
    throw CtlError(
      .portInUse, "port \(port) on \(address) is in use by another program; set \(variable) in .env to a free port")
  }

  static func isPortInUse(address: String, port: Int) -> Bool {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    let host = ["0.0.0.0", ""].contains(address) ? "0.0.0.0" : address
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return false }  // IPv6 or a name: Docker will tell
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    let result = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return result != 0 && errno == EADDRINUSE
  }

  /// The secret is a bind mount that keeps the host file's owner and mode 0600: the image's user must own it.
  public static func checkSecretReadable(project: Project, image: String) throws(CtlError) {
    guard let user = Docker.imageUser(image), let st = FileOps.status(project.hashFile) else { return }
    let uidText = user.split(separator: ":").first.map(String.init) ?? ""
    guard let uid = uid_t(uidText) else { return }  // a user name: cannot compare, Docker will tell
    if uid == 0 || st.uid == uid || st.mode & 0o004 != 0 { return }
    // As root, comfyctl gave the file to COMFYUI_UID already: the image is what disagrees.
    let fix =
      getuid() == 0
      ? "run `comfyctl build` to build the image for COMFYUI_UID=\(st.uid), or set COMFYUI_UID=\(uid) in .env"
      : "set COMFYUI_UID=\(st.uid) in .env and run `comfyctl build`, or run comfyctl as root"
    throw CtlError(
      .secretsInvalid,
      "the image \(image) runs as uid \(uid) but .secrets/comfyui_password_hash belongs to uid \(st.uid) "
        + "(mode 0600); \(fix)"
    )
  }
}
