// comfyctl's failures: one line saying what is wrong and how to fix it, and a distinct exit code per
// kind, so that scripts can tell "the stack is unhealthy" from "Docker is not running".

/// Exit codes, documented in docs/comfyctl.md. Never renumber: scripts rely on them.
public enum CtlExitCode: Int32, CaseIterable, Sendable {
  case ok = 0
  /// A check found problems: `secrets check` drift, a `validate` row failed.
  case checkFailed = 1
  case projectNotFound = 3
  case secretsMissing = 4
  case secretsInvalid = 5
  case envConflict = 6
  case filesystem = 7
  case dockerUnavailable = 8
  case composeMissing = 9
  case gpuRuntimeMissing = 10
  case portInUse = 11
  case buildFailed = 12
  case composeFailed = 13
  case healthTimeout = 14
  case containerFailed = 15
  case confirmationRequired = 16
  case serverUnreachable = 17
  case badInput = 18
  /// After Docker said healthy, a service answered a request without credentials: it was stopped.
  case authNotEnforced = 19
  /// `generate`: the workflow file is not JSON.
  case workflowNotJSON = 20
  /// `generate`: a UI-format workflow (or JSON that is not an API-format graph).
  case workflowUIFormat = 21
  /// `generate`: POST /prompt refused the graph (ComfyUI's node_errors).
  case workflowRejected = 22
  /// `generate`: the server ran the prompt and it failed (execution_error), or its images did not come.
  case executionFailed = 23
  /// `generate`: no result within --timeout; the prompt was interrupted and dequeued.
  case generateTimeout = 24
  /// The server answered 401 to the token from the secrets store.
  case unauthorized = 25
  /// `up --swarm`: this engine is not a swarm manager, and no `--init-swarm` or yes on a terminal.
  case notASwarmManager = 26
  /// Swarm: a service update (secret rotation, restart) failed its health check and was rolled back.
  case rolledBack = 27
  /// `secrets hf-token` / `civitai-token`: stdin held no token, or more than one line.
  case tokenInvalid = 28
  /// `build --comfyui-repo/--login-repo PATH`: the folder is not a git repository's top level.
  /// 30 and up: the image build's inputs, checked before `docker build` starts.
  case notAGitRepository = 30
  /// `build`: the local repository has no such commit, branch or tag.
  case refMissing = 31
  /// `build --wheels DIR`: the folder lacks a wheel for a direct requirement (or is no folder).
  case wheelsIncomplete = 32
  /// swift-argument-parser's code for a command line it cannot parse.
  case usage = 64
}

public struct CtlError: Error, CustomStringConvertible, Sendable {
  public var code: CtlExitCode
  public var message: String

  public init(_ code: CtlExitCode, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
