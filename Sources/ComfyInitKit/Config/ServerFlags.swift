// ComfyUI's command-line flags as its argparse parser (comfy/cli_args.py, v0.8.0) reads them. argparse
// takes any unique prefix for a flag (`--liste` is `--listen`), so every check here compares the flag
// a word resolves to, never the word's text.

enum ServerFlags {
  /// Every flag of ComfyUI v0.8.0's parser, plus argparse's own --help.
  static let all: [String] = [
    "--async-offload", "--auto-launch", "--base-directory", "--bf16-text-enc", "--bf16-unet", "--bf16-vae",
    "--cache-classic", "--cache-lru", "--cache-none", "--cache-ram", "--comfy-api-base", "--cpu", "--cpu-vae",
    "--cuda-device", "--cuda-malloc", "--database-url", "--default-device", "--default-hashing-function",
    "--deterministic", "--directml", "--disable-all-custom-nodes", "--disable-api-nodes", "--disable-async-offload",
    "--disable-auto-launch", "--disable-cuda-malloc", "--disable-ipex-optimize", "--disable-manager-ui",
    "--disable-metadata", "--disable-mmap", "--disable-pinned-memory", "--disable-smart-memory",
    "--disable-xformers", "--dont-print-server", "--dont-upcast-attention", "--enable-compress-response-body",
    "--enable-cors-header", "--enable-manager", "--enable-manager-legacy-ui", "--extra-model-paths-config", "--fast",
    "--force-channels-last", "--force-fp16", "--force-fp32", "--force-non-blocking", "--force-upcast-attention",
    "--fp16-text-enc", "--fp16-unet", "--fp16-vae", "--fp32-text-enc", "--fp32-unet", "--fp32-vae", "--fp64-unet",
    "--front-end-root", "--front-end-version", "--gpu-only", "--help", "--highvram", "--input-directory", "--listen",
    "--log-stdout", "--lowvram", "--max-upload-size", "--mmap-torch-files", "--multi-user", "--normalvram",
    "--novram", "--oneapi-device-selector", "--output-directory", "--port", "--preview-method", "--preview-size",
    "--quick-test-for-ci", "--reserve-vram", "--supports-fp8-compute", "--temp-directory", "--tls-certfile",
    "--tls-keyfile", "--use-flash-attention", "--use-pytorch-cross-attention", "--use-quad-cross-attention",
    "--use-sage-attention", "--use-split-cross-attention", "--user-directory", "--verbose",
    "--whitelist-custom-nodes", "--windows-standalone-build",
  ]

  /// Flags comfy-init sets itself, with the variable that owns each.
  static let managed: [(flag: String, variable: String)] = [
    ("--listen", "COMFYUI_LISTEN"), ("--port", "COMFYUI_PORT"),
  ]

  /// With auth on, each of these lets ComfyUI start without ComfyUI-Login: it skips custom nodes, or
  /// looks for them somewhere else.
  /// ComfyUI's own TLS: with the gate in front, the gate terminates TLS (ComfyUI's would make every
  /// request from the gate and the probes fail).
  static let servedByTheGate = ["--tls-keyfile", "--tls-certfile"]
  static let bypassingAuth = ["--disable-all-custom-nodes", "--whitelist-custom-nodes", "--base-directory"]

  /// The flag argparse takes `word` for: itself, or the one flag it is a unique prefix of (nil: not a flag,
  /// or ambiguous, which ComfyUI refuses on its own).
  static func resolve(_ word: String) -> String? {
    guard word.hasPrefix("--"), word.count > 2 else { return nil }
    let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
    if all.contains(name) { return name }
    let candidates = all.filter { $0.hasPrefix(name) }
    return candidates.count == 1 ? candidates[0] : nil
  }

  /// The value given to `flag` in `args` (`--flag=V` or `--flag V`), "" when the flag stands alone, nil
  /// when absent. The last occurrence wins, as in argparse.
  static func value(of flag: String, in args: [String]) -> String? {
    var found: String? = nil
    for (index, word) in args.enumerated() where resolve(word) == flag {
      if let eq = word.firstIndex(of: "=") {
        found = String(word[word.index(after: eq)...])
      } else if index + 1 < args.count, !args[index + 1].hasPrefix("-") {
        found = args[index + 1]
      } else {
        found = ""
      }
    }
    return found
  }

  /// Refuses what comfy-init owns, and with auth on, anything that would start the server without
  /// ComfyUI-Login or hide the warning that says it failed to load.
  static func validate(_ args: [String], auth: AuthMode, source: String) throws(InitError) {
    for word in args {
      guard let flag = resolve(word) else { continue }
      if let owner = managed.first(where: { $0.flag == flag }) {
        throw InitError(.config, "\(source) sets \(flag) (as '\(word)'); use \(owner.variable) instead")
      }
      if auth == .login && servedByTheGate.contains(flag) {
        throw InitError(
          .config,
          "\(source) sets \(flag) (as '\(word)'), but with auth on the gate serves clients and ComfyUI listens on loopback only; give the certificate to the gate with COMFYUI_TLS_CERT and COMFYUI_TLS_KEY"
        )
      }
      if auth == .login && bypassingAuth.contains(flag) {
        throw InitError(
          .config,
          "\(source) sets \(flag) (as '\(word)'), which would start ComfyUI without ComfyUI-Login; remove it, or set COMFYUI_AUTH=none to serve without auth"
        )
      }
    }
    if auth == .login, let level = value(of: "--verbose", in: args)?.uppercased(),
      level == "ERROR" || level == "CRITICAL"
    {
      throw InitError(
        .config,
        "\(source) sets --verbose \(level), which hides the warning ComfyUI prints when ComfyUI-Login fails to load; use WARNING or lower"
      )
    }
  }
}
