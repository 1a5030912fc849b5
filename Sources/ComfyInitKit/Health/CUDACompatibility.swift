// "The driver supports CUDA X, this image's torch needs Y": the driver's CUDA version (from the
// kernel module's version, or from WSL2's nvidia-smi) against the CUDA the venv's torch was built
// for (torch/version.py, read as a file: no Python starts). Owned here; `health` and `run` report it,
// and comfyctl asks `comfy-init health` rather than judging again.
import Spawn

#if canImport(Glibc)
  import Glibc
#endif

public struct CUDAVersion: Equatable, Comparable, CustomStringConvertible, Sendable {
  public var major: Int
  public var minor: Int

  public init(_ major: Int, _ minor: Int) {
    self.major = major
    self.minor = minor
  }

  /// "12.8" (a third part, as in "12.8.1", is ignored).
  public init?(_ text: String) {
    let parts = text.split(separator: ".")
    guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
    self.init(major, minor)
  }

  public var description: String { "\(major).\(minor)" }

  public static func < (a: CUDAVersion, b: CUDAVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}

public enum CUDAVerdict: Equatable, Sendable {
  /// No driver visible, no torch, or a CPU build of torch: nothing to say.
  case nothingToSay
  case compatible(driver: CUDAVersion, torch: CUDAVersion)
  /// Same major version, older minor: runs under CUDA's minor-version compatibility.
  case olderMinor(driver: CUDAVersion, torch: CUDAVersion)
  /// An older major version: torch cannot use the GPU.
  case incompatible(driver: CUDAVersion, torch: CUDAVersion)

  /// What is wrong, for the log; nil when all is well.
  public var message: String? {
    switch self {
    case .nothingToSay, .compatible: return nil
    case .olderMinor(let driver, let torch):
      return
        "the driver supports CUDA \(driver), this image's torch needs \(torch): it runs under CUDA's minor-version compatibility, but kernels that need a newer PTX may fail; update the NVIDIA driver"
    case .incompatible(let driver, let torch):
      return
        "the driver supports CUDA \(driver), this image's torch needs \(torch): torch cannot use the GPU; update the NVIDIA driver (docs/gpu.md says which each CUDA needs) or build the image with a torch for CUDA \(driver.major) (comfyctl build --torch-index-url)"
    }
  }

  /// `health`'s line (comfyctl validate shows it): "cuda error: ..." or "cuda warning: ...".
  public var line: String? {
    guard let message else { return nil }
    if case .incompatible = self { return "cuda error: " + message }
    return "cuda warning: " + message
  }
}

public enum CUDACompatibility {
  public static let driverVersionFile = "/proc/driver/nvidia/version"
  /// Docker Desktop's WSL2 has no /proc/driver/nvidia: the Windows driver is reached through this.
  public static let wslNvidiaSMI = "/usr/lib/wsl/lib/nvidia-smi"

  /// Driver branch (the version's first number) -> the highest CUDA version it supports, from NVIDIA's
  /// CUDA toolkit release notes ("CUDA Toolkit and Corresponding Driver Versions", Linux x86_64).
  static let branches: [(branch: Int, cuda: CUDAVersion)] = [
    (440, CUDAVersion(10, 2)), (450, CUDAVersion(11, 0)), (455, CUDAVersion(11, 1)), (460, CUDAVersion(11, 2)),
    (465, CUDAVersion(11, 3)), (470, CUDAVersion(11, 4)), (495, CUDAVersion(11, 5)), (510, CUDAVersion(11, 6)),
    (515, CUDAVersion(11, 7)), (520, CUDAVersion(11, 8)), (525, CUDAVersion(12, 0)), (530, CUDAVersion(12, 1)),
    (535, CUDAVersion(12, 2)), (545, CUDAVersion(12, 3)), (550, CUDAVersion(12, 4)), (555, CUDAVersion(12, 5)),
    (560, CUDAVersion(12, 6)), (565, CUDAVersion(12, 7)), (570, CUDAVersion(12, 8)), (575, CUDAVersion(12, 9)),
    (580, CUDAVersion(13, 0)), (590, CUDAVersion(13, 1)),
  ]

  /// The highest CUDA version a driver version ("570.133.07") supports: its branch's, or the nearest
  /// older branch's for one the table does not list. nil for a driver older than every branch.
  public static func cuda(forDriver version: String) -> CUDAVersion? {
    guard let branch = version.split(separator: ".").first.flatMap({ Int($0) }) else { return nil }
    return branches.last { $0.branch <= branch }?.cuda
  }

  /// The driver version in /proc/driver/nvidia/version's first line: "NVRM version: NVIDIA UNIX
  /// x86_64 Kernel Module  570.133.07  Fri Mar 14 ..." (the open module says "Open Kernel Module for
  /// x86_64" instead). The first word made of digits and dots only.
  public static func driverVersion(inProcFile text: String) -> String? {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("NVRM version:") }) else { return nil }
    for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
      if word.firstIndex(of: ".") != nil, word.allSatisfy({ $0 == "." || ("0"..."9").contains($0) }), word.first != "."
      {
        return String(word)
      }
    }
    return nil
  }

  /// nvidia-smi's banner: "| NVIDIA-SMI 570.133.07   Driver Version: 572.83   CUDA Version: 12.8 |".
  public static func cudaVersion(inNvidiaSMI text: String) -> CUDAVersion? {
    guard let found = text.rangeOfSubstring("CUDA Version:") else { return nil }
    let rest = text[found.upperBound...].drop { $0 == " " }
    return CUDAVersion(String(rest.prefix { $0 == "." || ("0"..."9").contains($0) }))
  }

  /// torch/version.py: `cuda: Optional[str] = '13.2'` (older torch: `cuda = '12.1'`), or `None` for
  /// a CPU build (nil then).
  public static func torchCUDA(inVersionFile text: String) -> CUDAVersion? {
    for line in text.split(separator: "\n") where line.hasPrefix("cuda") {
      var rest = line.dropFirst(4).drop { $0 == " " }
      // A type annotation between the name and "=".
      if rest.first == ":", let equals = rest.firstIndex(of: "=") { rest = rest[equals...] }
      guard rest.first == "=" else { continue }
      let value = rest.dropFirst().drop { $0 == " " }
      guard let quote = value.first, quote == "'" || quote == "\"" else { return nil }
      return CUDAVersion(String(value.dropFirst().prefix { $0 != quote }))
    }
    return nil
  }

  /// The driver's CUDA version on this machine: from `procFile`, else from WSL2's nvidia-smi (run with
  /// a short timeout); nil when no NVIDIA driver is visible.
  public static func driverCUDA(procFile: String = driverVersionFile, nvidiaSMI: String = wslNvidiaSMI)
    -> CUDAVersion?
  {
    if let text = FileSystem.readText(procFile) {
      return driverVersion(inProcFile: text).flatMap { cuda(forDriver: $0) }
    }
    guard FileSystem.isExecutable(nvidiaSMI),
      let result = try? ChildProcess.run([nvidiaSMI], environment: ["PATH": "/usr/bin:/bin"], timeout: 10),
      case .exited(0) = result.status
    else { return nil }
    return cudaVersion(inNvidiaSMI: String(decoding: result.stdout, as: UTF8.self))
  }

  /// The CUDA version the venv's torch was built for; nil without torch or for a CPU build.
  public static func torchCUDA(_ layout: HomeLayout) -> CUDAVersion? {
    for file in layout.torchVersionFiles {
      if let text = FileSystem.readText(file) { return torchCUDA(inVersionFile: text) }
    }
    return nil
  }

  public static func verdict(driver: CUDAVersion?, torch: CUDAVersion?) -> CUDAVerdict {
    guard let driver, let torch else { return .nothingToSay }
    if driver.major < torch.major { return .incompatible(driver: driver, torch: torch) }
    if driver.major == torch.major && driver.minor < torch.minor { return .olderMinor(driver: driver, torch: torch) }
    return .compatible(driver: driver, torch: torch)
  }

  /// This machine's driver against the venv's torch.
  /// The driver is asked first: `health` runs every few seconds, and on a machine without one (every
  /// CPU host) that is one failed open, with no listing of the venv and no read of torch's files.
  public static func verdict(_ layout: HomeLayout, procFile: String = driverVersionFile) -> CUDAVerdict {
    guard let driver = driverCUDA(procFile: procFile) else { return .nothingToSay }
    return verdict(driver: driver, torch: torchCUDA(layout))
  }
}
