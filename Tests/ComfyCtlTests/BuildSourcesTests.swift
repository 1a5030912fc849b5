// How `comfyctl build` reads its sources: URL or path, the names a requirements file asks for, and the
// distribution a wheel file holds, compared as pip compares them (PEP 503). The refusals themselves are
// rows of ExitCodeTests; the build from local folders is a step of EndToEndDockerTests.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct BuildSourcesTests {
  @Test func urlsArePassedThroughAndEverythingElseIsAPath() {
    for url in ["https://github.com/comfyanonymous/ComfyUI.git", "file:///srv/ComfyUI", "git@host:owner/Node.git"] {
      #expect(SourcePreparer.isURL(url), "\(url)")
    }
    for path in ["/tmp/e2e/comfy-src", "comfy-src", "./a:b", "../src@2:x", "/srv/user@host:x"] {
      #expect(!SourcePreparer.isURL(path), "\(path)")
    }
  }

  @Test func requirementLinesGiveTheirProjectNamesAndLeaveTheRestToPip() {
    let text = """
      comfyui-frontend-package==1.35.9
      numpy>=1.25.0
      aiohttp_session[secure]
      pydantic~=2.0  # pinned major

      #non essential dependencies:
      -r other.txt
      --extra-index-url https://example.invalid/simple
      ./local-package
      pkg @ https://example.invalid/pkg.whl
      pywin32; sys_platform == "win32"
      ruamel.yaml
      """
    #expect(
      SourcePreparer.requirementNames(text) == [
        "comfyui-frontend-package", "numpy", "aiohttp_session", "pydantic", "ruamel.yaml",
      ])
  }

  @Test func wheelAndSdistFilesNameTheirDistributionAsPipNormalisesIt() {
    #expect(SourcePreparer.distributionName("aiohttp_session-2.12.1-py3-none-any.whl") == "aiohttp-session")
    #expect(SourcePreparer.distributionName("Pillow-11.0.0-cp311-cp311-manylinux_2_28_x86_64.whl") == "pillow")
    #expect(SourcePreparer.distributionName("ruamel.yaml-0.18.6.tar.gz") == "ruamel-yaml")
    #expect(SourcePreparer.distributionName("comfy_kitchen-0.2.40.zip") == "comfy-kitchen")
    #expect(SourcePreparer.normalize("Comfy__Kitchen.-x") == "comfy-kitchen-x")
  }

  @Test func explicitSourcesWinOverTheStandinDefaults() {
    let standin = BuildSources(comfyuiRepo: "/s/c", comfyuiRef: "v0.8.0-standin", loginRepo: "/s/l", wheels: "/w")
    let filled = BuildSources(comfyuiRef: "main", wheels: "/mine").filling(from: standin)
    #expect(filled == BuildSources(comfyuiRepo: "/s/c", comfyuiRef: "main", loginRepo: "/s/l", wheels: "/mine"))
  }

  @Test func aTorchIndexIsABuildArgumentAndTorchNeedsNoWheelThen() throws {
    let dir = CtlTempDir("torch-index")
    dir.write("repo/requirements.txt", "torch\ntorchvision\nsix\n")
    let git = ["/usr/bin/git", "-C", dir.file("repo"), "-c", "user.email=t@comfy-init.invalid", "-c", "user.name=t"]
    #expect(try runTool(git + ["init", "-q"]).status == 0)
    #expect(try runTool(git + ["add", "-A"]).status == 0)
    #expect(try runTool(git + ["commit", "-qm", "torch", "--no-gpg-sign"]).status == 0)
    dir.write("wheels/six-1.17.0-py2.py3-none-any.whl", "")
    dir.write("wheels/einops-0.8.2-py3-none-any.whl", "")
    var sources = BuildSources(comfyuiRepo: dir.file("repo"), comfyuiRef: "HEAD", wheels: dir.file("wheels"))
    let prepare = { (sources: BuildSources) throws(CtlError) -> [(String, String)] in
      try SourcePreparer.prepare(
        sources, context: dir.file("context"), pipExtra: ["einops"], workingDirectory: dir.path)
    }
    #expect(throws: CtlError.self) { try prepare(sources) }
    sources.torchIndexURL = "https://example.invalid/whl/cu128"
    let values = try prepare(sources)
    #expect(values.contains { $0 == ("TORCH_INDEX_URL", "https://example.invalid/whl/cu128") }, "\(values)")
  }

  @Test func dockerDesktopOnWSL2IsAnEngineThatGivesGPUs() {
    #expect(
      Prerequisites.isDockerDesktopOnWSL2(
        operatingSystem: "Docker Desktop", kernel: "5.15.167.4-microsoft-standard-WSL2"))
    #expect(!Prerequisites.isDockerDesktopOnWSL2(operatingSystem: "Docker Desktop", kernel: "6.10.14-linuxkit"))
    #expect(
      !Prerequisites.isDockerDesktopOnWSL2(
        operatingSystem: "Ubuntu 24.04.1 LTS", kernel: "5.15.167.4-microsoft-standard-WSL2"))
  }
}
