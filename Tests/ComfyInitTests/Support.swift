// Test support: real processes, real git repos of the stand-in ComfyUI, a real wheel cache.
import Foundation
@_exported import TestSupport
import Testing

enum Paths {
  static let root: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  /// The binary under test: the static release build when scripts/test set it, else the debug build.
  static let comfyInit: String = {
    if let bin = ProcessInfo.processInfo.environment["COMFY_INIT_BIN"], !bin.isEmpty { return bin }
    let dist = root + "/dist/comfy-init"
    if FileManager.default.isExecutableFile(atPath: dist) { return dist }
    return root + "/.build/debug/comfy-init"
  }()

  static let wheels = root + "/.cache/wheels"
  static let fixtures = root + "/Tests/Fixtures"
}

/// The stand-in ComfyUI and ComfyUI-Login as git repos, made once per test process.
enum StandinRepos {
  static let dir: String = {
    let dir = NSTemporaryDirectory() + "comfy-init-standin-\(getpid())"
    let result = try! runProcess(
      ["/bin/bash", Paths.fixtures + "/make-standin-repos.sh", Paths.fixtures, dir], environment: baseEnvironment())
    precondition(result.status == 0, "make-standin-repos.sh failed: \(result.stderr)")
    return dir
  }()
  static var comfyRepo: String { "file://" + dir + "/comfyui.git-src" }
  static let comfyRef = "v0.8.0-standin"
  static var loginRepo: String { "file://" + dir + "/login-src" }
  static let loginRef = "v1.0-standin"
}

/// PATH and HOME only: tests never inherit the developer's COMFYUI_* or PIP_* settings.
func baseEnvironment() -> [String: String] {
  let env = ProcessInfo.processInfo.environment
  return [
    "PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
    "HOME": env["HOME"] ?? "/root",
    "LANG": "C.UTF-8",
  ]
}

/// The environment for comfy-init against the stand-ins, offline from the wheel cache.
func comfyEnvironment(home: String, port: Int, extra: [String: String] = [:]) -> [String: String] {
  var env = baseEnvironment()
  env["COMFYUI_HOME"] = home
  env["COMFYUI_REPO"] = StandinRepos.comfyRepo
  env["COMFYUI_REF"] = StandinRepos.comfyRef
  env["COMFYUI_LOGIN_REPO"] = StandinRepos.loginRepo
  env["COMFYUI_LOGIN_REF"] = StandinRepos.loginRef
  env["COMFYUI_LISTEN"] = "127.0.0.1"
  env["COMFYUI_PORT"] = String(port)
  // ComfyUI's own port behind the gate: never the shared default, which another test's server may hold.
  env["COMFYUI_INTERNAL_PORT"] = String(freePort())
  env["COMFYUI_ARGS"] = "--cpu"
  env["COMFYUI_INSTALLER"] = "pip"
  env["PIP_FIND_LINKS"] = Paths.wheels
  env["PIP_NO_INDEX"] = "1"
  env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
  env["PIP_NO_CACHE_DIR"] = "1"
  for (k, v) in extra { env[k] = v }
  return env
}

/// The real uv binary, taken out of the wheel in the cache (scripts/setup downloads it) into `dir`;
/// returns the folder to put first on PATH.
func realUV(in dir: String) throws -> String {
  let wheels = try FileManager.default.contentsOfDirectory(atPath: Paths.wheels)
  let wheel = try #require(wheels.first { $0.hasPrefix("uv-") && $0.hasSuffix(".whl") }, "no uv wheel in the cache")
  let bin = dir + "/uvbin"
  try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
  let unzip = try runProcess(
    [
      "/usr/bin/python3", "-c",
      "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); n=[x for x in z.namelist() if x.endswith('/scripts/uv')][0]; open(sys.argv[2],'wb').write(z.read(n))",
      Paths.wheels + "/" + wheel, bin + "/uv",
    ],
    environment: baseEnvironment())
  try #require(unzip.status == 0, "\(unzip.stderr)")
  chmod(bin + "/uv", 0o755)
  return bin
}

/// A plain HTTP GET/POST with curl's command-line tool (a real client, independent of our libcurl code).
struct CurlResult {
  var status: Int
  var headers: String
  var body: String
}

func curl(
  _ url: String, method: String? = nil, headers: [String] = [], form: [String: String]? = nil, body: String? = nil,
  cookieJar: String? = nil, maxTime: Int = 10, trustAnyCertificate: Bool = false, caCert: String? = nil,
  head: Bool = false
) throws -> CurlResult {
  var args = [
    "/usr/bin/curl", "-s", "-o", "-", "-D", "/dev/stderr", "-w", "\n%{http_code}", "--max-time", "\(maxTime)",
  ]
  if let method { args += ["-X", method] }
  // -I, not -X HEAD: curl then reads no body, whatever Content-Length says.
  if head { args.append("-I") }
  if trustAnyCertificate { args.append("-k") }
  if let caCert { args += ["--cacert", caCert] }
  if let body { args += ["--data-binary", body] }
  for h in headers { args += ["-H", h] }
  if let form { for (k, v) in form.sorted(by: { $0.key < $1.key }) { args += ["--data-urlencode", "\(k)=\(v)"] } }
  if let cookieJar { args += ["-c", cookieJar, "-b", cookieJar] }
  args.append(url)
  let r = try runProcess(args, environment: baseEnvironment(), timeout: 20)
  var lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
  let code = Int(lines.popLast() ?? "") ?? 0
  return CurlResult(status: code, headers: r.stderr, body: lines.joined(separator: "\n"))
}

/// Polls until the URL answers at all (any HTTP status); returns seconds waited, or nil.
func waitForHTTP(_ url: String, timeout: TimeInterval = 60, while process: BackgroundProcess? = nil) -> TimeInterval? {
  let start = Date()
  while Date().timeIntervalSince(start) < timeout {
    if let r = try? curl(url), r.status > 0 { return Date().timeIntervalSince(start) }
    if let process, !process.isRunning { return nil }
    usleep(50_000)
  }
  return nil
}

/// A pure-Python wheel of `name` at `version` in `folder`: `files` (path in the wheel: text) or just a
/// package whose __init__ holds the version. `index`: in `folder/NAME/` with a PEP 503 index.html, as
/// a simple index serves it; else in `folder` itself (a --find-links folder).
func writeWheel(
  in folder: String, name: String, version: String, files: [String: String] = [:], index: Bool = false
) throws {
  let script = """
    import base64, hashlib, json, os, sys, zipfile
    folder, name, version, index, given = sys.argv[1:6]
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = json.loads(given) or {f"{dist}/__init__.py": f"__version__ = '{version}'\\n"}
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: comfy-init-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\\n"
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\\n"
    target = os.path.join(folder, name) if index == "1" else folder
    os.makedirs(target, exist_ok=True)
    wheel = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(target, wheel), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    if index == "1":
        with open(os.path.join(target, "index.html"), "w") as f:
            f.write(f'<html><body><a href="{wheel}">{wheel}</a></body></html>\\n')
    """
  let given = String(decoding: try JSONSerialization.data(withJSONObject: files), as: UTF8.self)
  let r = try runProcess(
    ["/usr/bin/python3", "-c", script, folder, name, version, index ? "1" : "0", given],
    environment: baseEnvironment())
  try #require(r.status == 0, "\(r.stderr)")
}
