// Custom nodes under ComfyUI/custom_nodes: ComfyUI-Login when auth is on, plus COMFYUI_CUSTOM_NODES.
// Nodes are only ever cloned, renamed or disabled; never deleted.

enum CustomNodes {
  /// ComfyUI skips hidden entries, __pycache__ and names ending in ".disabled".
  static func isEnabled(_ name: String) -> Bool {
    !name.hasPrefix(".") && name != "__pycache__" && !name.hasSuffix(".disabled")
  }

  /// A node pinned to a ref (ComfyUI-Login always is, COMFYUI_CUSTOM_NODES entries with @REF) is
  /// moved back to it at start, local changes stashed: the server never imports a node at another
  /// ref than the one asked for (a stale ComfyUI-Login in an old volume may fail to import, and the
  /// server would then run without auth). Unpinned nodes move only with COMFYUI_UPDATE=1. A pinned
  /// node's files are checked too (GitCheckout.checksFiles): edited or added files are stashed.
  static func ensure(config: Config, runner: ToolRunner) throws {
    let layout = config.layout
    let loginDir = layout.customNode(Config.loginNodeName)
    if config.auth == .none {
      disableLogin(at: loginDir)
    } else {
      enableLoginIfDisabled(at: loginDir)
    }
    for node in config.wantedNodes {
      let checkout = GitCheckout(
        runner: runner, layout: layout, offline: config.offline, update: config.update || node.ref != nil,
        failure: .customNode, follow: config.update, checksFiles: node.ref != nil)
      _ = try checkout.ensure(
        url: node.url, ref: node.ref, at: layout.customNode(node.name), stamp: layout.nodeCheckoutStamp(node.name),
        label: "custom node \(node.name)")
    }
  }

  /// COMFYUI_AUTH=none must really turn auth off: an installed ComfyUI-Login would still guard the server.
  private static func disableLogin(at dir: String) {
    guard FileSystem.exists(dir) else { return }
    let target = FileSystem.freeName(beside: dir, suffix: "disabled")
    do {
      try FileSystem.rename(dir, to: target)
      Log.info("nodes: COMFYUI_AUTH=none, so \(Config.loginNodeName) is disabled (moved to \(target))")
    } catch {
      Log.warn("cannot disable \(dir): \(error); the server will still ask for a login")
    }
  }

  private static func enableLoginIfDisabled(at dir: String) {
    let disabled = dir + ".disabled"
    guard !FileSystem.exists(dir), FileSystem.isDirectory(disabled) else { return }
    do {
      try FileSystem.rename(disabled, to: dir)
      Log.info("nodes: COMFYUI_AUTH=login, so \(Config.loginNodeName) is enabled again")
    } catch {
      Log.warn("cannot enable \(disabled): \(error); cloning a fresh copy")
    }
  }
}
