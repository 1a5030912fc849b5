// What a test needs from the machine (root, mounts, a Docker engine), as one trait for every suite:
//   @Test(.needs(.root)) func ...      @Suite(.needs(.root, .tmpfs)) struct ...
// Outside CI a test whose need is not met is skipped, with the reason. With CI set it is never
// skipped, cancelled or cut short: it fails, saying what was missing. No red that looks green.
import Foundation
import Testing

/// CI is set (and not to "", "0" or "false"): every test must run.
public let inCI: Bool = {
  let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
  return !["", "0", "false"].contains(value)
}()

/// One thing a test needs from the machine, and how to find out whether it has it.
public struct Requirement: Sendable {
  public let name: String
  /// nil when the machine has it, else why not. Run at most once per test process.
  private let probe: @Sendable () -> String?

  public init(_ name: String, probe: @escaping @Sendable () -> String?) {
    self.name = name
    self.probe = probe
  }

  /// Why the machine does not have it (nil: it does); probed once, then remembered.
  public var problem: String? { RequirementCache.shared.problem(self.name, probe) }

  /// Runs as uid 0.
  public static let root = Requirement("root") {
    getuid() == 0 ? nil : "runs as uid \(getuid()), not root"
  }

  /// Can mount a tmpfs (root with CAP_SYS_ADMIN; an unprivileged container cannot), tried for real in
  /// a private mount namespace so that nothing stays mounted.
  public static let tmpfs = Requirement("tmpfs mounts") {
    if getuid() != 0 { return "runs as uid \(getuid()); mounting needs root" }
    let point = TempDir("mount-probe")
    let unshare = ["/usr/bin/unshare", "/bin/unshare"].first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let unshare else { return "no unshare(1) to try a mount in a private namespace" }
    let result = try? runProcess(
      [
        unshare, "--mount", "--propagation", "private", "/bin/mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
        point.path,
      ],
      environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"], timeout: 30)
    guard let result else { return "cannot run unshare" }
    return result.status == 0
      ? nil : "cannot mount a tmpfs: \(result.all.trimmingCharacters(in: .whitespacesAndNewlines))"
  }
}

final class RequirementCache: @unchecked Sendable {
  static let shared = RequirementCache()
  private let lock = NSLock()
  private var known: [String: String?] = [:]

  func problem(_ name: String, _ probe: () -> String?) -> String? {
    lock.lock()
    defer { lock.unlock() }
    if let found = known[name] { return found }
    let found = probe()
    known[name] = .some(found)
    return found
  }
}

/// What a test throws (through its trait, before its body runs) in CI when a need is not met.
public struct RequirementMissing: Error, CustomStringConvertible {
  public var description: String
}

extension Trait where Self == ConditionTrait {
  /// Runs the test (or every test of the suite) only where the machine has all of `requirements`.
  /// Outside CI a missing one skips it, with the reason; in CI it fails before its body runs.
  public static func needs(_ requirements: Requirement..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
    let names = requirements.map(\.name).joined(separator: " and ")
    return .enabled("needs \(names) (with CI set, fails without)", sourceLocation: sourceLocation) {
      let problems = requirements.compactMap { need in need.problem.map { "\(need.name): \($0)" } }
      if problems.isEmpty { return true }
      let reason = problems.joined(separator: "; ")
      if inCI { throw RequirementMissing(description: "CI must run this test, but it needs \(reason)") }
      print("skipped, needs \(reason)")
      return false
    }
  }
}

/// For a part of a test that needs what the machine may not have (the rest still runs): in CI the
/// test fails, elsewhere the part is skipped with a printed reason. Returns whether to run the part.
public func mayRun(
  part: String, needs requirement: Requirement, sourceLocation: SourceLocation = #_sourceLocation
) -> Bool {
  guard let problem = requirement.problem else { return true }
  if inCI {
    Issue.record("CI must run \(part), but it needs \(requirement.name): \(problem)", sourceLocation: sourceLocation)
  } else {
    print("skipped \(part), needs \(requirement.name): \(problem)")
  }
  return false
}
