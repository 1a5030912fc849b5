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
