// The driver's CUDA against torch's: the parsers on the real formats of /proc/driver/nvidia/version,
// nvidia-smi's banner and torch/version.py, the verdict table, and `comfy-init health` reporting it
// against a home whose venv holds a torch/version.py, with a driver file bind-mounted over
// /proc/driver (root, in a private mount namespace).
import Foundation
import Testing

@testable import ComfyInitKit

@Suite struct CUDACompatibilityTests {
  /// As the proprietary and the open kernel modules write it.
  static let procProprietary = """
    NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.133.07  Fri Mar 14 13:12:07 UTC 2025
    GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)

    """
  static let procOpen = """
    NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16-I3-B03-4-3)  Sun Jul 27 06:54:38 UTC 2025
    GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)

    """
  static let nvidiaSMI = """
    Tue Dec  2 03:00:00 2025
    +-----------------------------------------------------------------------------------------+
    | NVIDIA-SMI 570.133.07             Driver Version: 572.83         CUDA Version: 12.8     |
    |-----------------------------------------+------------------------+----------------------+

    """

  @Test func theDriverVersionIsReadFromTheKernelModulesFirstLine() {
    #expect(CUDACompatibility.driverVersion(inProcFile: Self.procProprietary) == "570.133.07")
    #expect(CUDACompatibility.driverVersion(inProcFile: Self.procOpen) == "580.65.06")
    #expect(CUDACompatibility.driverVersion(inProcFile: "GCC version: 12.2\n") == nil)
  }

  @Test func eachDriverBranchMapsToTheHighestCUDAItSupports() {
    let cases: [(String, String?)] = [
      ("525.60.13", "12.0"), ("535.247.01", "12.2"), ("550.54.14", "12.4"), ("560.35.03", "12.6"),
      ("570.133.07", "12.8"), ("572.83", "12.8"), ("575.51.03", "12.9"), ("580.65.06", "13.0"),
      ("590.44.01", "13.1"), ("470.256.02", "11.4"), ("390.157", nil),
    ]
    for (driver, cuda) in cases {
      #expect(CUDACompatibility.cuda(forDriver: driver)?.description == cuda, "\(driver)")
    }
  }

  @Test func wslsNvidiaSMIGivesTheCUDAVersionDirectly() {
    #expect(CUDACompatibility.cudaVersion(inNvidiaSMI: Self.nvidiaSMI) == CUDAVersion(12, 8))
    #expect(CUDACompatibility.cudaVersion(inNvidiaSMI: "No devices were found\n") == nil)
  }

  @Test func torchsVersionFileSaysItsCUDAOrNoneForACPUBuild() {
    // As torch 2.15's wheels from the default index write it.
    let cuda = """
      from typing import Optional

      __all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
      __version__ = '2.15.0+cu132'
      debug = False
      cuda: Optional[str] = '13.2'
      git_version = 'd0f2af8b66b20da4baa50644c0cd3f887a2eae2e'
      hip: Optional[str] = None
      rocm: Optional[str] = None
      xpu: Optional[str] = None

      """
    #expect(CUDACompatibility.torchCUDA(inVersionFile: cuda) == CUDAVersion(13, 2))
    #expect(CUDACompatibility.torchCUDA(inVersionFile: "__version__ = '2.0'\ncuda = '12.8'\n") == CUDAVersion(12, 8))
    #expect(
      CUDACompatibility.torchCUDA(inVersionFile: "__version__ = '2.9.1+cpu'\ncuda: Optional[str] = None\n") == nil)
  }

  @Test func theVerdictComparesMajorThenMinor() {
    let v = CUDACompatibility.verdict(driver:torch:)
    #expect(v(nil, CUDAVersion(13, 0)) == .nothingToSay)
    #expect(v(CUDAVersion(12, 8), nil) == .nothingToSay)
    #expect(
      v(CUDAVersion(12, 8), CUDAVersion(13, 0)) == .incompatible(driver: CUDAVersion(12, 8), torch: CUDAVersion(13, 0)))
    #expect(
      v(CUDAVersion(12, 4), CUDAVersion(12, 8)) == .olderMinor(driver: CUDAVersion(12, 4), torch: CUDAVersion(12, 8)))
    #expect(
      v(CUDAVersion(12, 8), CUDAVersion(12, 8)) == .compatible(driver: CUDAVersion(12, 8), torch: CUDAVersion(12, 8)))
    #expect(
      v(CUDAVersion(13, 0), CUDAVersion(12, 6)) == .compatible(driver: CUDAVersion(13, 0), torch: CUDAVersion(12, 6)))
    #expect(
      v(CUDAVersion(12, 8), CUDAVersion(13, 0)).line?.hasPrefix(
        "cuda error: the driver supports CUDA 12.8, this image's torch needs 13.0") == true)
  }

  @Test func theRealDriverFileIsTheDefaultAndItsAbsenceSaysNothing() throws {
    let tmp = TempDir("cuda")
    let layout = HomeLayout(home: tmp.path, venv: tmp.path + "/venv")
    try FileManager.default.createDirectory(
      atPath: tmp.path + "/venv/lib/python3.11/site-packages/torch", withIntermediateDirectories: true)
    try "cuda = '13.0'\n".write(
      toFile: tmp.path + "/venv/lib/python3.11/site-packages/torch/version.py", atomically: true, encoding: .utf8)
    #expect(CUDACompatibility.torchCUDA(layout) == CUDAVersion(13, 0))
    try Self.procProprietary.write(toFile: tmp.path + "/version", atomically: true, encoding: .utf8)
    #expect(
      CUDACompatibility.verdict(layout, procFile: tmp.path + "/version")
        == .incompatible(driver: CUDAVersion(12, 8), torch: CUDAVersion(13, 0)))
    // This machine has no NVIDIA driver: the default path finds none.
    if !FileManager.default.fileExists(atPath: CUDACompatibility.driverVersionFile)
      && !FileManager.default.fileExists(atPath: CUDACompatibility.wslNvidiaSMI)
    {
      #expect(CUDACompatibility.verdict(layout) == .nothingToSay)
    }
  }
}

/// `comfy-init health` against a home whose venv has torch built for `torchCUDA`, with `procText` as
/// /proc/driver/nvidia/version, and a server (auth off) whose /system_stats answers 200.
private func health(torchCUDA: String, procText: String) throws -> ProcessResult {
  let tmp = TempDir("cuda-health")
  let home = tmp.path + "/home"
  let torch = home + "/venv/lib/python3.11/site-packages/torch"
  try FileManager.default.createDirectory(atPath: torch, withIntermediateDirectories: true)
  try "__version__ = '2.9.1'\ncuda = '\(torchCUDA)'\n".write(
    toFile: torch + "/version.py", atomically: true, encoding: .utf8)
  try FileManager.default.createDirectory(atPath: tmp.path + "/driver/nvidia", withIntermediateDirectories: true)
  try procText.write(toFile: tmp.path + "/driver/nvidia/version", atomically: true, encoding: .utf8)
  // A static file server stands in for ComfyUI: health with auth off needs only the 200.
  try FileManager.default.createDirectory(atPath: tmp.path + "/www", withIntermediateDirectories: true)
  try #"{"system": {"comfyui_version": "0.8.0"}, "devices": []}"#.write(
    toFile: tmp.path + "/www/system_stats", atomically: true, encoding: .utf8)
  let port = freePort()
  let server = try BackgroundProcess(
    [
      "/usr/bin/env", "python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory",
      tmp.path + "/www",
    ],
    environment: baseEnvironment(), log: tmp.path + "/server.log")
  defer { server.stop() }
  #expect(waitForHTTP("http://127.0.0.1:\(port)/system_stats", while: server) != nil, "\(server.log)")
  var env = baseEnvironment()
  env["COMFYUI_HOME"] = home
  env["COMFYUI_AUTH"] = "none"
  env["COMFYUI_LISTEN"] = "127.0.0.1"
  env["COMFYUI_PORT"] = String(port)
  let script = "mount --bind \"$1\" /proc/driver && exec \"$2\" health --timeout 5"
  return try runProcess(
    [
      "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", tmp.path + "/driver",
      Paths.comfyInit,
    ], environment: env)
}

@Suite(.serialized) struct CUDAHealthTests {
  @Test(.needs(.root)) func healthFailsWithItsOwnCodeWhenTheDriverIsACUDAMajorBehind() throws {
    let r = try health(torchCUDA: "13.0", procText: CUDACompatibilityTests.procProprietary)
    #expect(r.status == ExitCode.cudaIncompatible.rawValue, "\(r.stdout)\(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 2 && lines[0].hasPrefix("ok: "), "\(r.stdout)")
    #expect(
      lines.last?.hasPrefix("cuda error: the driver supports CUDA 12.8, this image's torch needs 13.0") == true,
      "\(r.stdout)\(r.stderr)")
  }

  @Test(.needs(.root)) func healthWarnsWithoutFailingWhenOnlyTheMinorIsBehind() throws {
    let r = try health(torchCUDA: "12.9", procText: CUDACompatibilityTests.procProprietary)
    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    #expect(lines.count == 2 && lines[1].hasPrefix("ok: "), "\(r.stdout)")
    #expect(
      lines.first?.hasPrefix("cuda warning: the driver supports CUDA 12.8, this image's torch needs 12.9") == true,
      "\(r.stdout)")
  }

  @Test(.needs(.root)) func healthSaysNothingAboutCUDAWhenTheyAgree() throws {
    let r = try health(torchCUDA: "12.8", procText: CUDACompatibilityTests.procOpen)
    #expect(r.status == 0 && !r.stdout.contains("cuda"), "\(r.stdout)\(r.stderr)")
  }
}

@Suite(.serialized) struct CUDARunLogTests {
  @Test(.needs(.root)) func runSaysItOnceAtStartAndServesAnyway() throws {
    let h = ComfyHome()
    #expect(try h.bootstrap().status == 0)
    // A torch built for CUDA 13.0 in the venv (site-packages is not part of the fingerprint).
    let lib = h.home + "/venv/lib"
    let python = try #require(try FileManager.default.contentsOfDirectory(atPath: lib).first { $0.hasPrefix("python") })
    let torch = lib + "/" + python + "/site-packages/torch"
    try FileManager.default.createDirectory(atPath: torch, withIntermediateDirectories: true)
    try "cuda: Optional[str] = '13.0'\n".write(toFile: torch + "/version.py", atomically: true, encoding: .utf8)
    try FileManager.default.createDirectory(atPath: h.tmp.path + "/driver/nvidia", withIntermediateDirectories: true)
    try CUDACompatibilityTests.procProprietary.write(
      toFile: h.tmp.path + "/driver/nvidia/version", atomically: true, encoding: .utf8)
    // unshare and sh exec in place: the process is comfy-init, with the driver file over /proc/driver.
    let script = "mount --bind \"$1\" /proc/driver && exec \"$2\" run"
    let server = try h.start(
      args: [
        "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", h.tmp.path + "/driver", Paths.comfyInit,
      ],
      executable: "/usr/bin/unshare")
    defer { server.stop() }
    #expect(h.waitUntilServing(server), "\(server.log)")
    let said =
      server.log.components(separatedBy: "the driver supports CUDA 12.8, this image's torch needs 13.0").count - 1
    #expect(said == 1, "\(server.log)")
    #expect(server.log.contains("comfy-init: error: the driver supports CUDA 12.8"), "\(server.log)")
  }
}
