// Every path comfy-init reads or writes under COMFYUI_HOME, the venv and the state folder, in one
// place: a new state file gets its name here, and everyone else asks the layout.

public struct HomeLayout: Equatable, Sendable {
  /// COMFYUI_HOME.
  public let home: String
  /// COMFYUI_VENV (HOME/venv by default; it may live outside the home).
  public let venv: String

  /// COMFYUI_STATE_DIR (HOME/.comfy-init by default): everything comfy-init writes at a start that is
  /// not the user's data, so that one writable mount (a tmpfs, an emptyDir) covers a read-only root.
  public let stateDir: String

  /// A nil venv or state folder is the default one in the home.
  public init(home: String, venv: String? = nil, stateDir: String? = nil) {
    self.home = home
    self.venv = venv ?? home + "/venv"
    self.stateDir = stateDir ?? home + "/.comfy-init"
  }

  // ComfyUI's checkout and what the server reads from it.
  public var comfyDir: String { home + "/ComfyUI" }
  public var comfyMain: String { comfyDir + "/main.py" }
  /// ComfyUI's own requirements (trusted: the checkout is at the pinned ref).
  public var comfyRequirements: String { comfyDir + "/requirements.txt" }
  public var customNodesDir: String { comfyDir + "/custom_nodes" }
  public var modelsDir: String { comfyDir + "/models" }
  /// Where ComfyUI-Login reads its credential: a folder, or (the image) a link to `stateLoginDir`.
  public var loginDir: String { comfyDir + "/login" }
  /// ComfyUI-Login's credential: line 1 the bcrypt hash (the API token), line 2 the username (PasswordFile).
  public var passwordFile: String { loginDir + "/PASSWORD" }
  /// ComfyUI-Login's guest switch: while it exists, anyone may log in as a guest (LoginNodeFiles).
  public var guestModeFile: String { loginDir + "/GUEST_MODE" }
  /// ComfyUI-Login's session cookie key, in its own folder (LoginNodeFiles).
  public var loginSessionKey: String { customNode(Config.loginNodeName) + "/.secret-key.txt" }

  /// What the server writes at run time besides the user's data volumes, and the flag that moves each
  /// (ComfyUI's cli_args): `run` checks they are writable before the server starts.
  public var serverWritablePlaces: [(path: String, flag: String)] {
    [
      (comfyDir + "/temp", "--temp-directory"), (comfyDir + "/user", "--user-directory"),
      (comfyDir + "/output", "--output-directory"), (comfyDir + "/input", "--input-directory"),
    ]
  }

  public func customNode(_ name: String) -> String { customNodesDir + "/" + name }
  /// What a node writes into its own checkout at run time, and the file check of a pinned node
  /// (GitCheckout) leaves alone: Python's byte code anywhere, ComfyUI-Login's session key at the top.
  public static let nodeRunTimeFolders: Set<String> = ["__pycache__"]
  public static let nodeRunTimeFiles: Set<String> = [".secret-key.txt"]
  public func requirements(ofNode name: String) -> String { customNode(name) + "/requirements.txt" }

  // comfy-init's own state, in `stateDir`.
  /// Where the state lived before COMFYUI_STATE_DIR existed (and where an image build leaves its
  /// stamps): a state folder elsewhere is seeded from it (StateSeed).
  public var legacyStateDir: String { home + "/.comfy-init" }
  public var hasSeparateStateDir: Bool { stateDir != legacyStateDir }
  /// The target of the image's link HOME/ComfyUI/login: login/PASSWORD in the state folder.
  public var stateLoginDir: String { stateDir + "/login" }
  /// HOME for the server and the tools when the inherited one is not writable (an arbitrary uid has
  /// no passwd entry; a read-only root).
  public var fallbackUserHome: String { stateDir + "/home" }
  /// TMPDIR for the server and the tools when no temporary folder is writable (a read-only root
  /// without a /tmp mount; Bootstrap.giveChildrenWritablePlaces).
  public var fallbackTempDir: String { stateDir + "/tmp" }
  /// The key the gate signs browser sessions with, and the fingerprint of the hash it belongs to
  /// (0600; a new password gets a new key: GateProcess.sessionKey).
  public var gateSessionKey: String { stateDir + "/gate-session.key" }
  /// sitecustomize.py of the bind guard, on the server's PYTHONPATH with auth on (Server.bindGuard).
  public var bindGuardDir: String { stateDir + "/bind-guard" }
  /// flock target; holds the holder's pid (HomeLock).
  public var lockFile: String { stateDir + "/lock" }
  /// Present while the tools of a start (git, python, pip) may run: the mark their environment
  /// carries, so that the next start can end those a killed comfy-init left running (ToolLedger).
  public var toolsMarker: String { stateDir + "/tools" }
  /// phase, since, pid, detail (Status).
  public var statusFile: String { stateDir + "/status" }
  /// Which PASSWORD line was verified against which password file (PasswordFile); 0600.
  public var authStamp: String { stateDir + "/auth.stamp" }
  /// URL, ref, commit and state of ComfyUI's checkout (GitCheckout).
  public var comfyCheckoutStamp: String { stateDir + "/ComfyUI.checkout" }
  /// The same for each custom node.
  public var nodeStampsDir: String { stateDir + "/nodes" }
  public func nodeCheckoutStamp(_ name: String) -> String { nodeStampsDir + "/" + name + ".checkout" }
  /// Where verify stamps lived before they moved onto the models volume (VerifyStamp takes them over).
  public var legacyModelStampsDir: String { stateDir + "/models" }
  /// What provisioning keeps beside the models themselves, on the models volume: the state folder is a
  /// tmpfs or an emptyDir in the image and clusters, and a lock or a check must outlive a container.
  public var modelsStateDir: String { modelsDir + "/.comfy-init" }
  /// Revisions resolved to commits, and each file's size and SHA-256 (ModelLock).
  public var modelsLockFile: String { modelsStateDir + "/models.lock" }
  /// One verify stamp per model file (VerifyStamp), keyed by DEST.
  public var modelStampsDir: String { modelsStateDir + "/verified" }
  /// One download lock per DEST (DestinationLock).
  public var modelLocksDir: String { modelsStateDir + "/locks" }
  /// The state a new state folder takes over from `legacyStateDir`, relative to both: what a start
  /// would otherwise redo (git reads, bcrypt, hashing every model). Never the lock or the status.
  public static let seededState = ["ComfyUI.checkout", "auth.stamp", "nodes", "models"]

  /// Where a clone into `dest` is made before it is renamed into place. ".disabled" keeps ComfyUI
  /// from importing a half-cloned custom node; a crash leaves only this behind.
  public func partialClone(of dest: String) -> String {
    FileSystem.parent(of: dest) + "/.comfy-init-partial-" + FileSystem.baseName(of: dest) + ".disabled"
  }

  // The venv.
  public var python: String { venv + "/bin/python" }
  public var pyvenvConfig: String { venv + "/pyvenv.cfg" }
  public var venvLib: String { venv + "/lib" }
  /// The fingerprint of what was installed (Venv).
  public var venvStamp: String { venv + "/.comfy-init-stamp" }
  /// Present while an install runs: a crash leaves it behind and the next start repairs.
  public var venvInstallingMarker: String { venv + "/.comfy-init-installing" }
  /// Present from before `python3 -m venv` until the new venv's own pip answers: a crash leaves it
  /// behind (with a half-installed pip, perhaps), and the next start moves that venv aside.
  public var venvCreatingMarker: String { venv + "/.comfy-init-creating" }
  /// COMFYUI_TORCH_INDEX_URL as of the torch it installed: torch from another index (or from the
  /// default one, where this is absent) is uninstalled before the next install.
  public var venvTorchIndex: String { venv + "/.comfy-init-torch-index" }
  /// Each lib/pythonX.Y/site-packages of the venv (one, in practice).
  public var sitePackages: [String] {
    FileSystem.list(venvLib).filter { $0.hasPrefix("python") }.map { venvLib + "/" + $0 + "/site-packages" }
  }
  /// torch's build record in the venv: `cuda = '12.8'` (None for a CPU build).
  public var torchVersionFiles: [String] { sitePackages.map { $0 + "/torch/version.py" } }
}
