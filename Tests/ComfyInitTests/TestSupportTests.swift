// The test support itself: what keeps the suites from racing each other or leaving things behind.
import Foundation
import Testing

@Suite struct TestSupportTests {
  /// A port from freePort is this process's alone: never handed out twice, held against every other
  /// test process (their allocators skip a port whose lock file is taken), and outside the kernel's
  /// ephemeral range, where bind(0) and outgoing connections of anyone would take it.
  @Test func freePortsAreReservedForThisProcess() throws {
    let ports = (0..<40).map { _ in freePort() }
    #expect(Set(ports).count == ports.count, "a port was handed out twice: \(ports)")
    let range = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
    let ephemeralLow = Int(range.split(whereSeparator: \.isWhitespace).first ?? "") ?? 32768
    #expect(ports.allSatisfy { $0 < ephemeralLow }, "\(ports) reach the ephemeral range from \(ephemeralLow)")
    // Another process cannot take the reservation while this one runs.
    for port in ports.prefix(3) {
      let other = try runProcess(
        ["/usr/bin/flock", "--nonblock", "/tmp/comfy-init-test-ports/\(port)", "true"],
        environment: ["PATH": "/usr/bin:/bin"])
      #expect(other.status != 0, "another process could reserve port \(port)")
    }
  }

  /// `.ci/run` itself sets CI: a runner that does not would otherwise turn every test that needs root or
  /// Docker into a skip, which the suite reports green. The real script runs here, in a copy of the tree
  /// whose setup, swift, shellcheck and scripts/test are stand-ins that only record what they got.
  @Test func ciRunSetsCIForTheTestsWhateverTheRunnerSets() throws {
    let tmp = TempDir("ci-run")
    let fm = FileManager.default
    for dir in [".ci", "scripts", "Tests/Fixtures", "compose", "bin"] {
      try fm.createDirectory(atPath: tmp.path + "/" + dir, withIntermediateDirectories: true)
    }
    try fm.copyItem(atPath: Paths.root + "/.ci/run", toPath: tmp.path + "/.ci/run")
    let record = tmp.path + "/ci-seen"
    let stub = "#!/bin/sh\n"
    for (path, body) in [
      ("scripts/setup", stub), ("bin/swift", stub), ("bin/shellcheck", stub),
      ("scripts/test", stub + "printf '%s' \"${CI-unset}\" > '\(record)'\n"),
    ] {
      try body.write(toFile: tmp.path + "/" + path, atomically: false, encoding: .utf8)
      chmod(tmp.path + "/" + path, 0o755)
    }
    for runner in [["CI": "false"], [:]] {
      try? fm.removeItem(atPath: record)
      var env = baseEnvironment().merging(runner) { $1 }
      env["PATH"] = tmp.path + "/bin:" + env["PATH"]!
      let run = try runProcess(["/bin/bash", tmp.path + "/.ci/run"], environment: env)
      #expect(run.status == 0, "\(run.all)")
      #expect((try? String(contentsOfFile: record, encoding: .utf8)) == "true", "runner \(runner): \(run.all)")
    }
  }

  /// Folders that a crashed run left are swept; those of a running test process are kept.
  @Test func leftoversOfDeadRunsAreSweptAndLiveOnesKept() throws {
    let gone = try runProcess(["/bin/sh", "-c", "echo $$"], environment: [:])
    let deadPID = try #require(Int32(gone.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    try #require(!processIsAlive(deadPID))
    let tmp = NSTemporaryDirectory()
    let dead = [tmp + "comfy-init-home-p\(deadPID)-AbC123", tmp + "comfy-init-standin-\(deadPID)"]
    let live = tmp + "comfy-init-home-p\(getpid())-XyZ789"
    for path in dead + [live] {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    defer { for path in dead + [live] { try? FileManager.default.removeItem(atPath: path) } }
    TempDir.sweepLeftovers()
    for path in dead { #expect(!FileManager.default.fileExists(atPath: path), "\(path) was left") }
    #expect(FileManager.default.fileExists(atPath: live), "a running test's folder was swept")
  }
}
