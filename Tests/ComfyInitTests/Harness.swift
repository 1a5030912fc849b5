// A ComfyUI home driven by the real comfy-init binary against the stand-in ComfyUI, with shims
// that record every git and Python process it starts.
import Foundation
import Testing

final class ComfyHome: @unchecked Sendable {
  let tmp = TempDir("home")
  let port = freePort()
  /// ComfyUI's own port behind the gate: one per home, so that `health` checks the right one.
  let internalPort = freePort()
  var extra: [String: String]
  var home: String { tmp.path + "/home" }
  var calls: String { tmp.path + "/calls.log" }
  var passwordFile: String { home + "/ComfyUI/login/PASSWORD" }
  var baseURL: String { "http://127.0.0.1:\(port)" }

  init(_ extra: [String: String] = ["COMFYUI_PASSWORD": "correct-horse-battery-staple"]) {
    self.extra = extra
    FileManager.default.createFile(atPath: calls, contents: nil)
  }

  var environment: [String: String] {
    var env = comfyEnvironment(
      home: home, port: port, extra: ["COMFYUI_INTERNAL_PORT": String(internalPort)].merging(extra) { $1 })
    // Shims first on PATH; the sitecustomize hook sees every Python process, pip included.
    env["COMFY_TEST_REAL_PATH"] = env["PATH"]
    env["PATH"] = Paths.fixtures + "/shims:" + env["PATH"]!
    env["PYTHONPATH"] = Paths.fixtures + "/shims/pyhook"
    env["COMFY_TEST_CALLS"] = calls
    return env
  }

  /// Calls recorded since the last reset.
  var recordedCalls: [String] {
    ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
  }

  func resetCalls() { try? "".write(toFile: calls, atomically: false, encoding: .utf8) }

  @discardableResult
  func bootstrap(_ more: [String: String] = [:], args: [String] = []) throws -> ProcessResult {
    try runProcess([Paths.comfyInit, "bootstrap"] + args, environment: environment.merging(more) { $1 })
  }

  /// comfy-init `args`, or `executable` `args` for a wrapper that execs it.
  func start(
    _ more: [String: String] = [:], args: [String] = ["run"], label: String = "run",
    executable: String = Paths.comfyInit
  ) throws -> BackgroundProcess {
    try BackgroundProcess(
      [executable] + args, environment: environment.merging(more) { $1 }, log: tmp.path + "/\(label).log")
  }

  var token: String {
    let text = (try? String(contentsOfFile: passwordFile, encoding: .utf8)) ?? ""
    return String(text.split(separator: "\n").first ?? "")
  }

  /// `start`, then waits until the server answers (the test fails with its log when it does not).
  func startServing(_ more: [String: String] = [:], label: String = "run") throws -> BackgroundProcess {
    let server = try start(more, label: label)
    #expect(waitUntilServing(server), "\(server.log)")
    return server
  }

  /// Waits until the server answers an authenticated /system_stats with 200.
  func waitUntilServing(_ process: BackgroundProcess, timeout: TimeInterval = 60) -> Bool {
    let start = Date()
    while Date().timeIntervalSince(start) < timeout {
      if !process.isRunning { return false }
      if let r = try? curl(baseURL + "/system_stats", headers: ["Authorization: Bearer \(token)"]), r.status == 200 {
        return true
      }
      usleep(50_000)
    }
    return false
  }

  /// Reads the phase comfy-init reports in its status file.
  var phase: String? {
    guard let text = try? String(contentsOfFile: home + "/.comfy-init/status", encoding: .utf8) else { return nil }
    return text.split(separator: "\n").first { $0.hasPrefix("phase=") }.map { String($0.dropFirst(6)) }
  }
}

/// The server process under comfy-init: the descendant running main.py (the gate is another one).
func serverPID(under pid: Int32) -> Int32? {
  descendants(of: pid).first { child in
    let args = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/cmdline"))) ?? Data()
    return args.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).hasSuffix("main.py") }
  }
}

/// The gate (comfy-gateway) under comfy-init.
func gatePID(under pid: Int32) -> Int32? {
  descendants(of: pid).first { child in
    let args = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/cmdline"))) ?? Data()
    return args.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self).hasSuffix("comfy-gateway") }
      ?? false
  }
}

/// The bytes `pid` has written so far (its `wchar` in /proc/PID/io); 0 when it is gone.
func bytesWritten(by pid: Int32) -> Int {
  let text = (try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)) ?? ""
  let line = text.split(separator: "\n").first { $0.hasPrefix("wchar:") }
  return line.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
}

/// SIGKILL for a process and everything under it: a crash of the whole container.
func killTree(_ process: BackgroundProcess) {
  let all = descendants(of: process.pid)
  process.signal(SIGKILL)
  for pid in all { kill(pid, SIGKILL) }
  _ = process.wait(timeout: 10)
}
