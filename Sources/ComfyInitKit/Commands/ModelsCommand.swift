// `comfy-init models lock|verify [MANIFEST]`: the manifest's files seen from the lock's side.
// `lock` prints the manifest pinned (each Hub revision as its commit, each checksum filled in from
// models.lock, else from the source), to commit beside the manifest so that every deployment gets the
// same bytes. `verify` hashes every file on disk again, stamps or not, and says which is wrong.
#if canImport(Glibc)
  import Glibc
#endif

enum ModelsCommand {
  static let usage = "usage: comfy-init models lock|verify [MANIFEST] [FLAGS]"

  static func run(_ args: [String]) throws -> Int32 {
    var rest = args[...]
    guard let verb = rest.popFirst(), verb == "lock" || verb == "verify" else { throw InitError(.usage, usage) }
    var manifestArg: String? = nil
    if let first = rest.first, !first.hasPrefix("-") { manifestArg = rest.popFirst() }
    let config = try CLI.loadConfig(flags: Array(rest))
    // A `docker exec` as root works on the models volume as PUID: its folders are PUID's to change.
    if let owner = config.owner, getuid() == 0 { try Bootstrap.become(uid: owner.uid, gid: owner.gid) }
    guard let manifest = manifestArg ?? config.modelsManifest else {
      throw InitError(.usage, "no manifest: give its path, or set COMFYUI_MODELS_MANIFEST")
    }
    let entries = try ModelManifest.load(manifest)
    let lock = ModelLock.read(config.layout.modelsLockFile)
    return verb == "lock"
      ? try printLocked(entries, lock: lock, config: config)
      : try verify(entries, lock: lock, config: config, manifest: manifest)
  }

  /// The manifest with every line pinned; asks the source only for what the lock does not know.
  private static func printLocked(_ entries: [ModelEntry], lock: ModelLock, config: Config) throws -> Int32 {
    let tokens = try TokenPolicy(
      config, origins: [config.hfEndpoint, config.civitaiEndpoint].compactMap { URLParts($0) })
    let resolver = SourceResolver(config: config, tokens: tokens) { wait in usleep(UInt32(wait) * 1000) }
    var lines = ["# pinned by `comfy-init models lock` from \(config.layout.modelsLockFile) and the sources"]
    var revisions = lock.revisions
    for entry in entries {
      var lock = lock
      lock.revisions = revisions
      if let file = lock.file(for: entry) {
        lines.append("\(file.source) \(entry.dest) \(file.sha256)")
        continue
      }
      if case .url = entry.source {
        // A plain URL says no checksum before its download: the manifest's, or '-' with a note.
        if entry.sha256 == nil { lines.append("# \(entry.dest): not downloaded yet, so no checksum is known") }
        lines.append("\(entry.source.text()) \(entry.dest) \(entry.sha256 ?? "-")")
        continue
      }
      var commit: String? = nil
      if case .hub(let hub) = entry.source { commit = revisions[hub.revisionKey] }
      let resolution: Resolution
      do { resolution = try resolver.resolve(entry, commit: commit) } catch let error as InitError {
        throw InitError(.models, "line \(entry.line): \(error.message)")
      }
      if case .hub(let hub) = entry.source, let resolved = resolution.commit { revisions[hub.revisionKey] = resolved }
      lock.revisions = revisions
      let sha = entry.sha256 ?? resolution.sha256 ?? "-"
      lines.append("\(lock.pinnedText(entry.source)) \(entry.dest) \(sha)")
    }
    print(lines.joined(separator: "\n"))
    return 0
  }

  /// Hashes every file; one line each: ok, missing, wrong (moved aside by the next start), unchecked.
  private static func verify(_ entries: [ModelEntry], lock: ModelLock, config: Config, manifest: String) throws
    -> Int32
  {
    let paths = try ModelPaths(modelsDir: config.layout.modelsDir)
    let stamps = VerifyStamp(config.layout, root: paths.root)
    var bad = 0
    for entry in entries {
      let path = ModelPaths.unresolvedPath(of: entry, in: paths.root)
      let want = entry.sha256 ?? lock.file(for: entry)?.sha256
      guard FileSystem.exists(path) else {
        bad += 1
        print("missing    \(entry.dest)")
        continue
      }
      guard let want else {
        print("unchecked  \(entry.dest) (no SHA-256 in the manifest or models.lock)")
        continue
      }
      guard let got = try FileHasher.hash(path, checkStop: {}) else {
        bad += 1
        print("unreadable \(entry.dest) (\(String(cString: strerror(errno))))")
        continue
      }
      if got == want {
        stamps.record(entry.dest, sha: want)
        print("ok         \(entry.dest)")
      } else {
        bad += 1
        print("WRONG      \(entry.dest): sha256 \(got), expected \(want) (\(manifest):\(entry.line))")
      }
    }
    guard bad == 0 else {
      throw InitError(
        .models, "\(bad) of \(entries.count) model file(s) missing or wrong; `comfy-init provision` fetches them again")
    }
    return 0
  }
}
