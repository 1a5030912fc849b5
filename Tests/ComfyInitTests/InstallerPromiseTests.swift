// README's installer promises, with real pip and the real uv against local package indexes (file://
// PEP 503 folders) and wheel folders: COMFYUI_INSTALLER=auto, the venv's fingerprint over the PIP_* and
// UV_* variables, the PIP_* settings uv gets as flags and the UV_* ones that win over them, and
// COMFYUI_PIP_EXTRA split on commas and spaces.
import Foundation
import Testing

/// The distributions installed in the venv, as "name==version" from their dist-info folders.
func installedDistributions(_ venv: String) -> Set<String> {
  var found = Set<String>()
  let lib = venv + "/lib"
  for python in (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? [] {
    let site = lib + "/" + python + "/site-packages"
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: site)) ?? [] where entry.hasSuffix(".dist-info")
    {
      let parts = entry.dropLast(".dist-info".count).split(separator: "-", maxSplits: 1)
      if parts.count == 2 { found.insert(parts[0].lowercased() + "==" + parts[1]) }
    }
  }
  return found
}

@Suite(.serialized) struct InstallerPromiseTests {
  /// COMFYUI_INSTALLER=auto (the default): uv when it is on PATH, else pip.
  @Test func autoTakesUvFromPathAndPipWithoutIt() throws {
    let h = ComfyHome()
    let uvBin = try realUV(in: h.tmp.path)
    // Without the test shims (their uv stand-in fails on purpose): the plain PATH, where no uv is.
    var env = h.environment
    env["PATH"] = env["COMFY_TEST_REAL_PATH"]
    env["COMFYUI_INSTALLER"] = "auto"
    env["UV_CACHE_DIR"] = h.tmp.path + "/uv-cache"
    let noUV = try runProcess(["/usr/bin/env", "sh", "-c", "command -v uv || echo none"], environment: env)
    try #require(noUV.stdout == "none\n", "uv is on this machine's PATH: \(noUV.stdout)")

    let withPip = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(withPip.status == 0, "\(withPip.stderr)")
    #expect(withPip.stderr.contains("extra(s) with pip"), "\(withPip.stderr)")

    // uv on PATH, and a change that makes the venv install again (another extra).
    env["PATH"] = uvBin + ":" + env["PATH"]!
    env["COMFYUI_PIP_EXTRA"] = "einops,six"
    let withUV = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(withUV.status == 0, "\(withUV.stderr)")
    #expect(withUV.stderr.contains("extra(s) with uv"), "auto did not take uv from PATH: \(withUV.stderr)")
    // The venv keeps its own pip, whichever installed.
    let pip = try runProcess([h.home + "/venv/bin/python", "-m", "pip", "--version"], environment: baseEnvironment())
    #expect(pip.status == 0, "\(pip.stderr)")
  }

  /// Each of the installer variables is part of the venv's fingerprint: setting one (the others
  /// unchanged) runs the installer again; an unchanged start runs none.
  @Test func everyInstallerVariableChangeReinstalls() throws {
    let h = ComfyHome()
    let first = try h.bootstrap()
    try #require(first.status == 0, "\(first.stderr)")
    let constraints = h.tmp.path + "/constraints.txt"
    try "six>=1\n".write(toFile: constraints, atomically: true, encoding: .utf8)
    // Values pip (no index, the wheel folder) installs with as before: only the fingerprint changes.
    let changes: [(String, String)] = [
      ("PIP_EXTRA_INDEX_URL", "file:///nonexistent/extra-index"), ("PIP_PRE", "1"), ("PIP_CONSTRAINT", constraints),
      ("PIP_ONLY_BINARY", ":all:"), ("PIP_NO_BINARY", ":none:"), ("UV_INDEX_URL", "file:///nonexistent/uv-index"),
      ("UV_DEFAULT_INDEX", "file:///nonexistent/uv-default"), ("UV_EXTRA_INDEX_URL", "file:///nonexistent/uv-extra"),
      ("UV_INDEX", "file:///nonexistent/uv-named"), ("UV_FIND_LINKS", "/nonexistent/uv-links"), ("UV_NO_INDEX", "1"),
      ("UV_PRERELEASE", "allow"), ("UV_CONSTRAINT", constraints),
    ]
    var set: [String: String] = [:]
    for (name, value) in changes {
      set[name] = value
      h.resetCalls()
      let changed = try h.bootstrap(set)
      #expect(changed.status == 0, "\(name): \(changed.stderr)")
      #expect(
        h.recordedCalls.contains { $0.contains("pip") && $0.contains(" install ") },
        "setting \(name) did not reinstall: \(changed.stderr)")
    }
    h.resetCalls()
    let unchanged = try h.bootstrap(set)
    #expect(unchanged.status == 0, "\(unchanged.stderr)")
    #expect(unchanged.stderr.contains("venv: up to date, no installer run"), "\(unchanged.stderr)")
    #expect(h.recordedCalls == [], "an unchanged start ran: \(h.recordedCalls)")
  }

  /// uv reads no PIP_* variable: comfy-init hands it PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS
  /// and PIP_NO_INDEX as flags, and leaves each out where uv's own variable is set (UV_* win).
  @Test func uvGetsThePipIndexSettingsAsFlagsAndItsOwnVariablesWin() throws {
    let h = ComfyHome()
    let root = h.tmp.path
    // Version 1.0 where the PIP_* variables point, 2.0 where the UV_* ones do.
    try writeWheel(in: root + "/index", name: "comfy-init-probe-a", version: "1.0", index: true)
    try writeWheel(in: root + "/index", name: "comfy-init-probe-d", version: "1.0", index: true)
    try writeWheel(in: root + "/extra", name: "comfy-init-probe-b", version: "1.0", index: true)
    try writeWheel(in: root + "/links", name: "comfy-init-probe-c", version: "1.0", index: false)
    try writeWheel(in: root + "/uv-index", name: "comfy-init-probe-a", version: "2.0", index: true)
    try writeWheel(in: root + "/uv-extra", name: "comfy-init-probe-b", version: "2.0", index: true)
    try writeWheel(in: root + "/uv-links", name: "comfy-init-probe-c", version: "2.0", index: false)
    let uvBin = try realUV(in: root)
    var env = h.environment
    env["PATH"] = uvBin + ":" + env["PATH"]!
    env["COMFYUI_INSTALLER"] = "uv"
    env["UV_CACHE_DIR"] = root + "/uv-cache"
    env["PIP_NO_INDEX"] = nil
    env["PIP_INDEX_URL"] = "file://" + root + "/index"
    env["PIP_EXTRA_INDEX_URL"] = "file://" + root + "/extra"
    env["PIP_FIND_LINKS"] = Paths.wheels + " " + root + "/links"
    env["COMFYUI_PIP_EXTRA"] = "einops,comfy-init-probe-a,comfy-init-probe-b,comfy-init-probe-c"

    // Each package is where one PIP_* variable points, and nowhere else.
    let flags = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(flags.status == 0, "uv did not get PIP_INDEX_URL, PIP_EXTRA_INDEX_URL or PIP_FIND_LINKS: \(flags.stderr)")
    #expect(flags.stderr.contains("with uv"), "\(flags.stderr)")
    let probes = { installedDistributions(h.home + "/venv").filter { $0.hasPrefix("comfy_init_probe") } }
    #expect(probes() == ["comfy_init_probe_a==1.0", "comfy_init_probe_b==1.0", "comfy_init_probe_c==1.0"])

    // PIP_NO_INDEX=1: uv may not read the index, so a package only the index has is not found.
    env["PIP_NO_INDEX"] = "1"
    env["COMFYUI_PIP_EXTRA"]! += ",comfy-init-probe-d"
    let noIndex = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(noIndex.status == 16, "uv did not get PIP_NO_INDEX as --no-index: \(noIndex.stderr)")
    #expect(!probes().contains("comfy_init_probe_d==1.0"), "\(noIndex.stderr)")

    // uv's own variables win: the PIP_* ones stay set, and 2.0 comes from where the UV_* ones point.
    env["PIP_NO_INDEX"] = nil
    env["UV_INDEX_URL"] = "file://" + root + "/uv-index"
    env["UV_EXTRA_INDEX_URL"] = "file://" + root + "/uv-extra"
    env["UV_FIND_LINKS"] = Paths.wheels + "," + root + "/uv-links"
    env["COMFYUI_PIP_EXTRA"] = "einops,comfy-init-probe-a>=2,comfy-init-probe-b>=2,comfy-init-probe-c>=2"
    let uvWins = try runProcess([Paths.comfyInit, "bootstrap"], environment: env)
    #expect(uvWins.status == 0, "a PIP_* flag overrode a UV_* variable: \(uvWins.stderr)")
    #expect(probes() == ["comfy_init_probe_a==2.0", "comfy_init_probe_b==2.0", "comfy_init_probe_c==2.0"])
  }

  /// COMFYUI_PIP_EXTRA is split on commas and spaces (and newlines): each word is one requirement.
  @Test func pipExtraIsSplitOnCommasAndSpaces() throws {
    let h = ComfyHome(["COMFYUI_AUTH": "none"])
    let result = try h.bootstrap(["COMFYUI_PIP_EXTRA": "einops,idna certifi,\nurllib3"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("and 4 extra(s)"), "\(result.stderr)")
    let installed = installedDistributions(h.home + "/venv").map { String($0.split(separator: "=").first!) }
    for name in ["einops", "idna", "certifi", "urllib3"] {
      #expect(installed.contains(name), "\(name) was not installed: \(installed.sorted())")
    }
    #expect(
      try String(contentsOfFile: h.home + "/venv/.comfy-init-stamp", encoding: .utf8).contains(
        "extras: einops idna certifi urllib3\n"))
  }
}
