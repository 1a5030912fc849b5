// Test support: real processes, real git repos of the stand-in ComfyUI, a real wheel cache.
import Foundation

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

struct ProcessResult {
  var status: Int32
  var stdout: String
  var stderr: String
  /// True when the process died by a signal (status then holds the signal number).
  var signaled: Bool
}

/// Runs a program to completion with a clean, explicit environment.
@discardableResult
func runProcess(
  _ args: [String], environment: [String: String], directory: String? = nil, stdin: String? = nil,
  timeout: TimeInterval = 300
) throws -> ProcessResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: args[0])
  process.arguments = Array(args.dropFirst())
  process.environment = environment
  if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  let input = Pipe()
  process.standardInput = input
  try process.run()
  if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
  try input.fileHandleForWriting.close()
  // Read both pipes concurrently so a chatty child never blocks on a full pipe.
  nonisolated(unsafe) var outData = Data()
  nonisolated(unsafe) var errData = Data()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    outData = out.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  group.enter()
  DispatchQueue.global().async {
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let deadline = Date().addingTimeInterval(timeout)
  while process.isRunning && Date() < deadline { usleep(20_000) }
  if process.isRunning {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
  }
  group.wait()
  return ProcessResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self), signaled: process.terminationReason == .uncaughtSignal)
}

/// A fresh folder under /tmp, removed when the test ends (unless COMFY_KEEP_TMP is set).
final class TempDir: @unchecked Sendable {
  let path: String
  init(_ label: String = "t") {
    let template = NSTemporaryDirectory() + "comfy-init-\(label)-XXXXXX"
    var bytes = Array(template.utf8CString)
    path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
  }
  deinit {
    if ProcessInfo.processInfo.environment["COMFY_KEEP_TMP"] == nil {
      try? FileManager.default.removeItem(atPath: path)
    }
  }
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
  env["COMFYUI_ARGS"] = "--cpu"
  env["COMFYUI_INSTALLER"] = "pip"
  env["PIP_FIND_LINKS"] = Paths.wheels
  env["PIP_NO_INDEX"] = "1"
  env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
  env["PIP_NO_CACHE_DIR"] = "1"
  for (k, v) in extra { env[k] = v }
  return env
}

/// A TCP port nobody listens on right now.
func freePort() -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  addr.sin_port = 0
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
  }
  _ = withUnsafeMutablePointer(to: &addr) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
  }
  return Int(UInt16(bigEndian: addr.sin_port))
}

/// A child process running in the background, with its output collected into files.
final class BackgroundProcess: @unchecked Sendable {
  let process = Process()
  let logPath: String

  init(_ args: [String], environment: [String: String], log: String) throws {
    logPath = log
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.executableURL = URL(fileURLWithPath: args[0])
    process.arguments = Array(args.dropFirst())
    process.environment = environment
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }
  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

  /// Waits for the exit; nil on timeout.
  func wait(timeout: TimeInterval) -> (status: Int32, signaled: Bool)? {
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning { return nil }
    return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
  }

  func stop() {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  deinit { stop() }
}

/// A plain HTTP GET/POST with curl's command-line tool (a real client, independent of our libcurl code).
struct CurlResult {
  var status: Int
  var headers: String
  var body: String
}

func curl(_ url: String, headers: [String] = [], form: [String: String]? = nil, cookieJar: String? = nil) throws
  -> CurlResult
{
  var args = ["/usr/bin/curl", "-s", "-o", "-", "-D", "/dev/stderr", "-w", "\n%{http_code}", "--max-time", "10"]
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
    if let process, !process.process.isRunning { return nil }
    usleep(50_000)
  }
  return nil
}
