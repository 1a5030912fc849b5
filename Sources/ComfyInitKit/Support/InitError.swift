// One kind of failure per way things go wrong: each has its own exit code, and every message says
// what is wrong and how to fix it, on one line.

/// Exit codes, documented in README.md ("Exit codes"). Never renumber: scripts and HEALTHCHECKs rely on them.
public enum ExitCode: Int32, CaseIterable, Sendable {
  case ok = 0
  case failure = 1
  case usage = 2
  case config = 10
  case credential = 11
  case filesystem = 12
  case lock = 13
  case git = 14
  case python = 15
  case install = 16
  case offline = 17
  case customNode = 18
  case privileges = 19
  case models = 20
  /// Auth is on but the server would answer without credentials (ComfyUI-Login did not load or
  /// enforces nothing): the server was stopped.
  case authNotEnforced = 21
  /// `health` only: the NVIDIA driver supports an older CUDA major version than the venv's torch needs.
  case cudaIncompatible = 22
  /// Auth is on and the gate (comfy-gateway) could not start, or stopped: nothing may serve without it.
  case gate = 23
  case cannotExecute = 126
  case notFound = 127
}

extension ExitCode {
  /// The words `comfy-init --help` gives each code (README's table says more; a test keeps the two
  /// lists of codes equal).
  var summary: String {
    switch self {
    case .ok: return "ok"
    case .failure: return "unexpected failure"
    case .usage: return "usage"
    case .config: return "config"
    case .credential: return "credential"
    case .filesystem: return "filesystem"
    case .lock: return "lock"
    case .git: return "git"
    case .python: return "python/venv"
    case .install: return "install"
    case .offline: return "offline"
    case .customNode: return "custom node"
    case .privileges: return "privileges"
    case .models: return "models"
    case .authNotEnforced: return "auth not enforced (stopped)"
    case .cudaIncompatible: return "(health) the driver supports an older CUDA than torch needs"
    case .gate: return "the gate cannot start or stopped"
    case .cannotExecute: return "the server cannot be executed"
    case .notFound: return "the server is not found"
    }
  }

  /// A program that could not be run: 127 when it does not exist, else 126 (as a shell says).
  init(shellCode: Int32) { self = shellCode == ExitCode.notFound.rawValue ? .notFound : .cannotExecute }

  /// The list for --help: "0 ok, 1 unexpected failure, 2 usage, ...", wrapped at 110 columns.
  static var helpText: String {
    let items = allCases.map { "\($0.rawValue) \($0.summary)," } + ["else the server's code."]
    var lines = ["Exit codes:"]
    for item in items {
      if lines[lines.count - 1].count + 1 + item.count > 110 { lines.append("") } else { lines[lines.count - 1] += " " }
      lines[lines.count - 1] += item
    }
    return lines.joined(separator: "\n")
  }
}

public struct InitError: Error, CustomStringConvertible, Sendable {
  public var code: ExitCode
  public var message: String

  public init(_ code: ExitCode, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
