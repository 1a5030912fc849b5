// The "models" phase: every file of COMFYUI_MODELS_MANIFEST ends up under ComfyUI/models with the
// right SHA-256. A verified file is never fetched again; a wrong one is moved aside, never deleted.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

public final class ModelProvisioning {
  let config: Config
  let manifest: String?
  let layout: HomeLayout
  /// Why nothing may be downloaded (COMFYUI_SKIP_MODELS or COMFYUI_OFFLINE), if so.
  let skipReason: String?
  let supervisor: Supervisor?
  /// Where progress goes: the status file, unless another comfy-init owns it.
  let reporter: PhaseReporter

  init(config: Config, supervisor: Supervisor?, reporter: PhaseReporter) {
    self.config = config
    manifest = config.modelsManifest
    layout = config.layout
    skipReason = config.skipModels ? "COMFYUI_SKIP_MODELS=1" : config.offline ? "COMFYUI_OFFLINE=1" : nil
    self.supervisor = supervisor
    self.reporter = reporter
  }

  /// Runs the phase; returns its summary for the log line.
  public func run() throws -> String {
    guard let manifest else { return "no manifest (COMFYUI_MODELS_MANIFEST is unset)" }
    if let skipReason { return checkPresence(manifest, why: skipReason) }
    let entries = try ModelManifest.load(manifest)
    let paths = try ModelPaths(modelsDir: layout.modelsDir)
    let stamps = VerifyStamp(dir: layout.modelStampsDir)
    var jobs: [DownloadJob] = []
    for entry in entries {
      let path = try paths.prepare(entry, source: manifest)
      if entry.sha256 == nil {
        Log.warn(
          "models: \(manifest):\(entry.line): no SHA-256 for \(entry.dest) ('-'), so it is never verified; put its sha256 there"
        )
      }
      if try !isInPlace(entry, path: path, stamps: stamps) { jobs.append(DownloadJob(entry: entry, path: path)) }
    }
    if jobs.isEmpty { return "all \(entries.count) in place, nothing to download" }

    // A token that cannot be used stops only a start that needs it: once every model is in place,
    // the token file need not be mounted.
    let tokens = try TokenPolicy(config)
    let started = Instant.now()
    let downloader = Downloader(
      concurrency: config.downloadConcurrency, tokens: tokens, supervisor: supervisor,
      progress: DownloadProgress(reporter: reporter)
    ) { [unowned self] transfer in self.place(transfer, stamps: stamps, manifest: manifest) }
    let failures = try downloader.run(jobs)
    guard failures.isEmpty else {
      let more = failures.count > 1 ? " (\(failures.count - 1) more failed, see above)" : ""
      throw InitError(.models, failures[0] + more)
    }
    let rate = Double(downloader.fetched) / max(started.secondsSince, 0.001)
    return
      "\(entries.count - jobs.count) in place, \(jobs.count) downloaded (\(formatBytes(downloader.fetched)) fetched, "
      + formatRate(rate, remaining: nil) + ")"
  }

  /// COMFYUI_SKIP_MODELS / COMFYUI_OFFLINE: nothing is fetched; a missing model is only a warning.
  private func checkPresence(_ manifest: String, why: String) -> String {
    let entries: [ModelEntry]
    do { entries = try ModelManifest.load(manifest) } catch {
      Log.warn("models: \(error.message) (ignored: \(why))")
      return "skipped (\(why)), manifest unusable"
    }
    var missing = 0
    for entry in entries where !FileSystem.exists(ModelPaths.unresolvedPath(of: entry, in: layout.modelsDir)) {
      missing += 1
      Log.warn(
        "models: \(entry.dest) is missing and \(why) keeps it from being downloaded; workflows using it will fail")
    }
    return "skipped (\(why)): \(entries.count - missing) of \(entries.count) present"
  }

  /// True when `path` holds the file already: stamped, or hashed now and right. A wrong file is
  /// moved aside so that the download can take its place.
  private func isInPlace(_ entry: ModelEntry, path: String, stamps: VerifyStamp) throws -> Bool {
    guard FileSystem.exists(path) else { return false }
    guard let want = entry.sha256 else { return true }
    if stamps.matches(path, sha: want) { return true }
    reporter.report(.models, detail: "checking the sha256 of \(entry.dest)")
    Log.info("models: \(entry.dest): present, checking its sha256")
    guard let got = try FileHasher.hash(path, checkStop: { try supervisor?.throwIfStoppedDuringModels() }) else {
      throw InitError(.models, "cannot read \(path): \(String(cString: strerror(errno))); fix its permissions")
    }
    if got == want {
      stamps.record(path, sha: want)
      return true
    }
    let aside = ModelProvisioning.asideName(path)
    guard Glibc.rename(path, aside) == 0 else {
      throw InitError(
        .models, "cannot move \(path) aside to \(aside): \(String(cString: strerror(errno))); move it yourself")
    }
    Log.warn(
      "models: \(entry.dest) has sha256 \(got), manifest line \(entry.line) expects \(want): moved it to \(aside), downloading it again"
    )
    return false
  }

  /// Verifies a finished download and renames it into place; returns an error message.
  private func place(_ transfer: Transfer, stamps: VerifyStamp, manifest: String) -> String? {
    let entry = transfer.job.entry
    let digest = hex(transfer.hasher.finalize())
    if let want = entry.sha256, digest != want {
      let aside = ModelProvisioning.asideName(transfer.job.path)
      let kept = Glibc.rename(transfer.partialPath, aside) == 0 ? aside : transfer.partialPath
      return "\(manifest):\(entry.line): \(entry.dest) arrived with sha256 \(digest), the manifest expects \(want); "
        + "kept it as \(kept); fix the manifest's hash or URL"
    }
    guard Glibc.rename(transfer.partialPath, transfer.job.path) == 0 else {
      return
        "cannot rename \(transfer.partialPath) into place: \(String(cString: strerror(errno))); make ComfyUI/models writable"
    }
    FileSystem.syncDirectory(containing: transfer.job.path)
    if let want = entry.sha256 { stamps.record(transfer.job.path, sha: want) }
    Log.info(
      "models: placed \(entry.dest) (\(formatBytes(transfer.offset)), sha256 \(entry.sha256 == nil ? "not checked" : "ok"), "
        + "\(formatBytes(transfer.fetched)) fetched in \(formatDuration(transfer.started.secondsSince)))")
    return nil
  }

  /// "NAME.mismatch-1", or the next number free.
  static func asideName(_ path: String) -> String {
    var n = 1
    while FileSystem.exists(path + ".mismatch-\(n)") { n += 1 }
    return path + ".mismatch-\(n)"
  }
}

extension Supervisor {
  /// `throwIfStopped`, saying that the downloads resume at the next start.
  func throwIfStoppedDuringModels() throws(StopRequested) {
    do { try throwIfStopped() } catch {
      Log.info("models: \(Signals.name(error.signal)): stopping; the next start resumes where this one ended")
      throw error
    }
  }
}
