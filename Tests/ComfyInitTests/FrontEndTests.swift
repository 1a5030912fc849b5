// One owner per fact, checked from the outside: Spawn reaps the children it failed to start, and
// libcurl is set up once for the blocking client and the downloads alike.
import CurlProbe
import Foundation
import HTTPClient
import Testing

@testable import ComfyInitKit

@Suite struct SpawnTests {
  @Test func aFailedExecLeavesNoZombieWithoutTheCallerReaping() throws {
    // A child that fails to exec keeps the name of the thread that forked it: name this thread so
    // that such a child can be told apart from the other tests' children.
    let probe = "spawn-probe-\(getpid() % 1000)"
    let commFile = "/proc/thread-self/comm"
    let saved = try String(contentsOfFile: commFile, encoding: .utf8).trimmingCharacters(in: .newlines)
    try probe.write(toFile: commFile, atomically: false, encoding: .utf8)
    defer { try? saved.write(toFile: commFile, atomically: false, encoding: .utf8) }

    let cases: [(program: String, code: Int32)] = [
      ("/nonexistent/comfy-init-test-program", 127), ("no-such-program-on-path", 127), ("/", 126),
    ]
    for (program, code) in cases {
      do {
        _ = try ChildProcess.spawn([program], options: SpawnOptions(environment: ["PATH": "/usr/bin:/bin"]))
        Issue.record("\(program) started")
      } catch {
        #expect(error.shellCode == code, "\(error)")
      }
    }
    // Once no such child still runs, an unreaped one is a zombie.
    #expect(pollUntil { children(named: probe).allSatisfy { $0.state == "Z" } }, "a failed exec is still running")
    #expect(children(named: probe).filter { $0.state == "Z" }.isEmpty, "a failed exec left a zombie behind")
  }

  /// The children of this process whose name is `comm`, with their state (Z: a zombie).
  private func children(named comm: String) -> [(pid: Int32, state: Substring)] {
    let me = getpid()
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> (pid: Int32, state: Substring)? in
      guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
      else { return nil }
      // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
      let name = String(stat[stat.index(after: open)..<close])
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 1, Int32(fields[1]) == me, name == comm else { return nil }
      return (pid, fields[0])
    }
  }
}

@Suite struct CurlFrontEndTests {
  @Test func curlGlobalInitRunsOnceForSendAndTheDownloads() throws {
    let url = "http://127.0.0.1:\(freePort())/model.bin"
    // The blocking interface (health, comfyctl)...
    #expect(throws: HTTPError.self) { try HTTPClient.send(HTTPRequest(url: url, timeout: 5, connectTimeout: 2)) }

    // ... and the multi interface the model downloads use.
    let dir = TempDir("curl")
    let fd = open(dir.path + "/model.bin.partial", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    try #require(fd >= 0)
    defer { close(fd) }
    let download = try #require(FileDownload(url: url))
    download.attach(fd: fd, holding: 0)
    download.prepare(bearerToken: nil)
    let group = TransferGroup()
    group.add(download)
    var finished: (download: FileDownload, error: HTTPError?)? = nil
    let deadline = Date().addingTimeInterval(10)
    while finished == nil && Date() < deadline {
      group.perform()
      finished = group.nextFinished()
      if finished == nil { _ = group.wait(timeoutMilliseconds: 100, wakingOn: -1) }
    }
    #expect(finished?.download === download)
    #expect(finished?.error?.kind == .refused, "\(String(describing: finished?.error))")

    // Every call in this process, whichever test made it, went through the wrapper.
    #expect(curlprobe_global_init_calls() == 1)
  }
}
