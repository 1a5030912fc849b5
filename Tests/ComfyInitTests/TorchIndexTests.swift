// COMFYUI_TORCH_INDEX_URL with real pip: torch comes from that index alone, although the wheel folder
// holds a higher version built for another CUDA; a restart installs nothing; another index reinstalls.
import Foundation
import Testing

@testable import ComfyInitKit

/// A pure-Python stand-in for torch, as a wheel in `folder`: only `torch/version.py` matters (its
/// `cuda` line is what comfy-init reads to tell which CUDA the venv's torch needs).
/// A torch wheel that records its CUDA build as the real one does (torch/version.py).
private func writeTorchWheel(in folder: String, version: String, cuda: String) throws {
  try writeWheel(
    in: folder, name: "torch", version: version,
    files: [
      "torch/__init__.py": "from .version import __version__, cuda\n",
      "torch/version.py": "__version__ = '\(version)'\ncuda = '\(cuda)'\n",
    ])
}

/// A PEP 503 index (file://) serving one torch wheel, as PyTorch's index serves one CUDA variant.
private func makeTorchIndex(in dir: String, version: String, cuda: String) throws -> String {
  try writeTorchWheel(in: dir + "/torch", version: version, cuda: cuda)
  let wheel = "torch-\(version)-py3-none-any.whl"
  try "<html><body><a href=\"\(wheel)\">\(wheel)</a></body></html>\n".write(
    toFile: dir + "/torch/index.html", atomically: true, encoding: .utf8)
  return "file://" + dir
}

/// The stand-in ComfyUI with `torch` in its requirements.txt, tagged `tag`; returns its file:// URL.
private func comfyNamingTorch(in tmp: TempDir, tag: String) throws -> String {
  let dir = tmp.path + "/comfy-src"
  try git(["clone", "--quiet", StandinRepos.dir + "/comfyui.git-src", dir])
  let requirements = try String(contentsOfFile: dir + "/requirements.txt", encoding: .utf8)
  try (requirements + "torch\n").write(toFile: dir + "/requirements.txt", atomically: true, encoding: .utf8)
  try git([
    "-C", dir, "-c", "user.email=test@comfy-init.invalid", "-c", "user.name=test", "-c", "commit.gpgsign=false",
    "commit", "--quiet", "-am", "requirements: torch",
  ])
  try git(["-C", dir, "tag", tag])
  return "file://" + dir
}

private func installedTorch(_ home: String) -> String? {
  let lib = home + "/venv/lib"
  for python in (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? [] {
    let file = lib + "/" + python + "/site-packages/torch/version.py"
    if let text = try? String(contentsOfFile: file, encoding: .utf8) { return text }
  }
  return nil
}

@Suite(.serialized) struct TorchIndexTests {
  @Test func onlyTorchPackagesAreTakenFromARequirementsFile() {
    let text = "torch\ntorchsde\ntorchvision>=0.20 # comment\n  torchaudio ; sys_platform == 'linux'\n# torch\nnumpy\n"
    #expect(Venv.torchRequirements(in: text) == ["torch", "torchvision>=0.20", "torchaudio ; sys_platform == 'linux'"])
  }

  @Test func torchComesFromTheTorchIndexAloneAndAnotherIndexReinstallsIt() throws {
    let h = ComfyHome()
    let cu128 = try makeTorchIndex(in: h.tmp.path + "/index-cu128", version: "1.0+cu128", cuda: "12.8")
    let cu126 = try makeTorchIndex(in: h.tmp.path + "/index-cu126", version: "1.0+cu126", cuda: "12.6")
    // A higher torch, built for CUDA 13, where the other requirements come from.
    let links = h.tmp.path + "/links"
    try writeTorchWheel(in: links, version: "2.0", cuda: "13.0")
    h.extra["COMFYUI_REPO"] = try comfyNamingTorch(in: h.tmp, tag: "v0.8.0-torch")
    h.extra["COMFYUI_REF"] = "v0.8.0-torch"
    h.extra["PIP_FIND_LINKS"] = Paths.wheels + " " + links
    h.extra["COMFYUI_TORCH_INDEX_URL"] = cu128

    let first = try h.bootstrap()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(installedTorch(h.home) == "__version__ = '1.0+cu128'\ncuda = '12.8'\n", "\(first.stderr)")
    #expect(first.stderr.contains("installing torch from COMFYUI_TORCH_INDEX_URL=\(cu128)"), "\(first.stderr)")

    h.resetCalls()
    let again = try h.bootstrap()
    #expect(again.status == 0, "\(again.stderr)")
    #expect(!h.recordedCalls.contains { $0.contains("pip") }, "an installer ran: \(h.recordedCalls)")

    // Another CUDA variant: the fingerprint changes, and torch is replaced although 1.0+cu128 would
    // satisfy `torch`.
    h.extra["COMFYUI_TORCH_INDEX_URL"] = cu126
    let switched = try h.bootstrap()
    #expect(switched.status == 0, "\(switched.stderr)")
    #expect(installedTorch(h.home) == "__version__ = '1.0+cu126'\ncuda = '12.6'\n", "\(switched.stderr)")

    // No torch index: back to what the other sources offer.
    h.extra["COMFYUI_TORCH_INDEX_URL"] = nil
    let unset = try h.bootstrap()
    #expect(unset.status == 0, "\(unset.stderr)")
    #expect(installedTorch(h.home) == "__version__ = '2.0'\ncuda = '13.0'\n", "\(unset.stderr)")
  }
}
