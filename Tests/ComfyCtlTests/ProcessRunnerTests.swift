// Streaming several commands side by side (swarm `logs -f`: one `docker service logs` per service).
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct ProcessRunnerTests {
  /// Lines as they arrive, from the commands' threads.
  final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var all: [String] { lock.withLock { stored } }
  }

  @Test func sideBySideStreamsEveryCommandAtOnceFilteredAndReportsTheFirstFailure() {
    let lines = Lines()
    // The first command's second line comes a second after its first: the second command's line
    // must arrive in between (one after the other, it would come last).
    let status = ProcessRunner.streamFilteredSideBySide(
      [
        ["/bin/sh", "-c", "echo a1 secret; sleep 1; echo a2"],
        ["/bin/sh", "-c", "sleep 0.3; echo b1 secret; exit 3"],
      ], filter: { $0.replacingOccurrences(of: "secret", with: "[redacted]") }, output: lines.append)
    #expect(status == 3)
    #expect(lines.all == ["a1 [redacted]\n", "b1 [redacted]\n", "a2\n"], "\(lines.all)")
  }

  @Test func aCommandThatCannotStartCountsAsAFailure() {
    let lines = Lines()
    let status = ProcessRunner.streamFilteredSideBySide(
      [["/bin/true"], ["/nonexistent/program"]], filter: { $0 }, output: lines.append)
    #expect(status == 127)
  }
}
