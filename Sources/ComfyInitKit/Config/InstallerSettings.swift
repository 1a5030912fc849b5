// COMFYUI_INSTALLER, COMFYUI_TORCH_INDEX_URL and the PIP_*/UV_* variables: what decides the venv's content.

/// COMFYUI_INSTALLER and the PIP_*/UV_* variables that change what gets installed into the venv.
public struct InstallerSettings: Equatable, Sendable {
  public enum Choice: String, CaseIterable, Sendable { case auto, pip, uv }

  /// The variables that change what pip or uv would install, in the table's order (the venv's
  /// fingerprint hashes them in this order, so a new one goes last). All of them reach the installer
  /// unchanged, through the children's environment.
  public static let variables = Config.variables.filter(\.isInstallerSetting).map(\.name)

  /// auto: uv when it is on PATH, else pip.
  public var choice = Choice.auto
  /// Each of `variables` that is set, as written: the venv's fingerprint covers them.
  public var values: [String: String] = [:]
  public var pipIndexURL: String? = nil
  public var pipExtraIndexURLs: [String] = []
  public var pipFindLinks: [String] = []
  public var pipNoIndex = false
  /// uv's own index settings win over the PIP_* ones comfy-init translates for it.
  public var uvSetsIndex = false
  public var uvSetsExtraIndex = false
  public var uvSetsFindLinks = false

  /// COMFYUI_TORCH_INDEX_URL: the index torch and its companions come from, and nothing else does
  /// (PyTorch's own index for one CUDA variant).
  public var torchIndexURL: String? = nil

  /// A wheel folder the installer can use without the network.
  public var hasFindLinks: Bool { !pipFindLinks.isEmpty || uvSetsFindLinks }
}
