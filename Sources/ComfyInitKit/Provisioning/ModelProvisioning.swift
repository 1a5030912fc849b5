// The "models" phase: every file of COMFYUI_MODELS_MANIFEST ends up under ComfyUI/models with the
// right SHA-256, as a checklist:
//   1. what a stamp (or the lock's hash) says is in place costs no request at all;
//   2. each missing file's download lock is taken (another instance downloading it is waited for);
//   3. its source is resolved (a Hub revision to a commit, once) and checked against models.lock;
//   4. the same content already on the volume is hard-linked instead of downloaded;
//   5. the disk must hold the whole rest before the first byte;
//   6. the downloads run, each verified before it is renamed into place, stamped and locked.
// A verified file is never fetched again; a wrong one is moved aside, never deleted.
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

  /// One manifest line on its way.
  private struct Wanted {
    var entry: ModelEntry
    var path: String
  }

  /// Runs the phase; returns its summary for the log line.
  public func run() throws -> String {
    guard let manifest else { return "no manifest (COMFYUI_MODELS_MANIFEST is unset)" }
    if let skipReason { return checkPresence(manifest, why: skipReason) }
    let entries = try ModelManifest.load(manifest)
    let paths = try ModelPaths(modelsDir: layout.modelsDir)
    let stamps = VerifyStamp(layout, root: paths.root)
    let lock = ModelLock.read(layout.modelsLockFile)
    var missing: [Wanted] = []
    for entry in entries {
      let path = try paths.prepare(entry, source: manifest)
      let want = entry.sha256 ?? lock.file(for: entry)?.sha256
      if try isInPlace(entry, path: path, sha: want, stamps: stamps) { continue }
      missing.append(Wanted(entry: entry, path: path))
    }
    if missing.isEmpty { return "all \(entries.count) in place, nothing to download" }

    let tokens = try TokenPolicy(config, origins: missing.compactMap { URLParts(originHost(of: $0.entry.source)) })
    let resolver = SourceResolver(config: config, tokens: tokens) { [supervisor] wait in
      try supervisor?.throwIfStoppedDuringModels(waitingMilliseconds: wait)
    }
    let started = Instant.now()
    var fetched: Int64 = 0
    var linked = 0
    var waiting = missing
    var rounds = 0
    // Files another instance holds come back round after round until it lets go.
    while !waiting.isEmpty {
      rounds += 1
      var jobs: [DownloadJob] = []
      var busy: [(Wanted, String)] = []
      for wanted in waiting {
        let destLock = DestinationLock(dest: wanted.entry.dest, layout: layout)
        switch try destLock.take() {
        case .busy(let holder):
          busy.append((wanted, holder))
          continue
        case .held: break
        }
        if let job = try prepare(
          wanted, lock: destLock, resolver: resolver, stamps: stamps, manifest: manifest, linked: &linked)
        {
          jobs.append(job)
        } else {
          destLock.release()
        }
      }
      // The same content wanted at two places is downloaded once, then linked.
      var firsts = Set<String>()
      var twins: [DownloadJob] = []
      jobs = jobs.filter { job in
        guard let sha = job.sha256, !firsts.insert(sha).inserted else { return true }
        twins.append(job)
        return false
      }
      try checkSpace(jobs)
      if !jobs.isEmpty {
        let downloader = Downloader(
          concurrency: config.downloadConcurrency, connections: config.downloadConnections,
          pieceSize: Int64(config.downloadPieceMiB) << 20, hfEndpoint: config.hfEndpoint, tokens: tokens,
          supervisor: supervisor, progress: DownloadProgress(reporter: reporter)
        ) { [unowned self] transfer in self.place(transfer, stamps: stamps, manifest: manifest) }
        let failures = try downloader.run(jobs)
        fetched += downloader.fetched
        guard failures.isEmpty else {
          let more = failures.count > 1 ? " (\(failures.count - 1) more failed, see above)" : ""
          throw InitError(.models, failures[0] + more)
        }
      }
      waiting = busy.map(\.0)
      for twin in twins {
        defer { twin.lock.release() }
        if let sha = twin.sha256, let copy = stamps.verifiedCopy(of: sha, except: twin.entry.dest),
          link(copy, to: twin.path)
        {
          stamps.record(twin.entry.dest, sha: sha)
          recordLock(twin.entry, path: twin.path, sha: sha, pinned: twin.pinnedSource)
          linked += 1
          Log.info("models: \(twin.entry.dest): the same content as \(copy); hard-linked, nothing downloaded")
        } else {
          // No hard links here (another filesystem): downloaded in the next round.
          waiting.append(Wanted(entry: twin.entry, path: twin.path))
        }
      }
      if let (wanted, holder) = busy.first, !waiting.isEmpty {
        let others = busy.count > 1 ? " and \(busy.count - 1) more" : ""
        reporter.report(.models, detail: "waiting for \(holder) to finish \(wanted.entry.dest)\(others)")
        if rounds == 1 || rounds % 30 == 0 {
          Log.info("models: \(holder) is downloading \(wanted.entry.dest)\(others); waiting for it")
        }
        try supervisor?.throwIfStoppedDuringModels(waitingMilliseconds: 1000)
        if supervisor == nil { usleep(1_000_000) }
        // What the other instance placed is in place now, checked by its stamp.
        let lockNow = ModelLock.read(layout.modelsLockFile)
        waiting = try waiting.filter { wanted in
          let want = wanted.entry.sha256 ?? lockNow.file(for: wanted.entry)?.sha256
          return try !isInPlace(wanted.entry, path: wanted.path, sha: want, stamps: stamps)
        }
      }
    }
    let rate = Double(fetched) / max(started.secondsSince, 0.001)
    let downloaded = missing.count - linked
    return "\(entries.count - missing.count) in place, \(downloaded) downloaded"
      + (linked > 0 ? ", \(linked) linked to the same content" : "")
      + " (\(formatBytes(fetched)) fetched, " + formatRate(rate, remaining: nil) + ")"
  }

  /// The host a source's first request goes to, for the token policy.
  private func originHost(of source: ModelSource) -> String {
    switch source {
    case .url(let url): return url
    case .hub: return config.hfEndpoint
    case .civitai: return config.civitaiEndpoint
    }
  }

  /// With the file's lock held: resolves its source, checks it against the lock, links the same
  /// content if the volume has it. Returns the download to make, or nil when none is needed.
  private func prepare(
    _ wanted: Wanted, lock destLock: DestinationLock, resolver: SourceResolver, stamps: VerifyStamp, manifest: String,
    linked: inout Int
  ) throws -> DownloadJob? {
    let entry = wanted.entry
    var lock = ModelLock.read(layout.modelsLockFile)
    let locked = lock.file(for: entry)
    // Another instance may have placed it while we waited for the lock.
    if try isInPlace(entry, path: wanted.path, sha: entry.sha256 ?? locked?.sha256, stamps: stamps) {
      return nil
    }
    reporter.report(.models, detail: "resolving \(entry.source.loggable)")
    var commit: String? = nil
    if case .hub(let hub) = entry.source { commit = lock.revisions[hub.revisionKey] }
    let resolution: Resolution
    do { resolution = try resolver.resolve(entry, commit: commit) } catch let error as InitError {
      throw InitError(.models, "\(manifest):\(entry.line): \(error.message)")
    }
    if case .hub(let hub) = entry.source, commit == nil, let resolved = resolution.commit {
      // Resolved once: every later file of this revision, and every later start, uses this commit.
      ModelLock.update(layout.modelsLockFile) { $0.revisions[hub.revisionKey] = resolved }
      lock.revisions[hub.revisionKey] = resolved
      Log.info("models: \(hub.revisionKey) is commit \(resolved); locked in \(layout.modelsLockFile)")
    }
    let pinned = lock.pinnedText(entry.source)
    let claimed = resolution.sizeIsEstimate ? nil : resolution.size
    if let locked, let now = resolution.sha256, now != locked.sha256, entry.sha256 == nil {
      throw InitError(
        .models,
        "\(manifest):\(entry.line): \(entry.source.loggable) now has sha256 \(now), models.lock pins \(locked.sha256) for \(entry.dest): the file changed upstream; nothing was placed. To take the new file, put its sha256 on the manifest line (or remove its `file` line from \(layout.modelsLockFile))"
      )
    }
    if let want = entry.sha256, let now = resolution.sha256, now != want {
      throw InitError(
        .models,
        "\(manifest):\(entry.line): the manifest expects sha256 \(want) for \(entry.dest), but \(entry.source.loggable) serves \(now); fix the manifest's hash or source"
      )
    }
    let sha = entry.sha256 ?? locked?.sha256 ?? resolution.sha256
    // A file placed by hand before the lock knew its hash: checked now that the source says it.
    if FileSystem.exists(wanted.path), sha != nil,
      try isInPlace(entry, path: wanted.path, sha: sha, stamps: stamps)
    {
      recordLock(entry, path: wanted.path, sha: sha!, pinned: pinned)
      return nil
    }
    if let sha, let copy = stamps.verifiedCopy(of: sha, except: entry.dest), link(copy, to: wanted.path) {
      stamps.record(entry.dest, sha: sha)
      recordLock(entry, path: wanted.path, sha: sha, pinned: pinned)
      linked += 1
      Log.info("models: \(entry.dest): the same content is already at \(copy); hard-linked, nothing downloaded")
      return nil
    }
    if sha == nil {
      Log.warn(
        "models: \(manifest):\(entry.line): nothing gives the SHA-256 of \(entry.dest); the first download's is locked in \(layout.modelsLockFile)"
      )
    }
    return DownloadJob(
      entry: entry, path: wanted.path, origin: resolution.origin, sha256: sha, size: claimed ?? resolution.size,
      pinnedSource: pinned, lock: destLock)
  }

  /// Links `source` (a verified file on the volume) at `path` through a temporary name, so `path`
  /// is never half there. False when the filesystem cannot (another volume, no hard links).
  private func link(_ source: String, to path: String) -> Bool {
    let temp = FileSystem.randomTemporaryName(for: path)
    guard Glibc.link(layout.modelsDir + "/" + source, temp) == 0 else { return false }
    guard Glibc.rename(temp, path) == 0 else {
      unlink(temp)
      return false
    }
    return true
  }

  private func recordLock(_ entry: ModelEntry, path: String, sha: String, pinned: String) {
    var st = stat()
    guard stat(path, &st) == 0 else { return }
    ModelLock.update(layout.modelsLockFile) {
      $0.files[entry.dest] = ModelLock.File(size: Int64(st.st_size), sha256: sha, source: pinned)
    }
  }

  /// The whole rest must fit before the first byte: "needs 41.2 GB, 12.0 GB free on .../models".
  private func checkSpace(_ jobs: [DownloadJob]) throws {
    var need: Int64 = 0
    var counted = Set<String>()
    for job in jobs {
      if let sha = job.sha256, !counted.insert(sha).inserted { continue }
      guard let size = job.size else { continue }
      var st = stat()
      // What a partial file already holds (its blocks: a many-connection one is sparse).
      let there = stat(job.path + ".partial", &st) == 0 ? min(Int64(st.st_blocks) * 512, size) : 0
      need += max(0, size - there)
    }
    guard need > 0, let free = FileSystem.freeBytes(at: layout.modelsDir), need > Int64(clamping: free) else { return }
    throw InitError(
      .models,
      "the downloads need \(formatBytes(need)), \(formatBytes(Int64(clamping: free))) free on \(layout.modelsDir); free space or grow the volume"
    )
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
  /// moved aside so that the download can take its place. Without a known hash a present file is
  /// in place only for a plain URL (nothing could say more); a Hub or CivitAI source is asked for
  /// its hash first, and the caller comes back with it.
  private func isInPlace(_ entry: ModelEntry, path: String, sha want: String?, stamps: VerifyStamp) throws -> Bool {
    guard FileSystem.exists(path) else { return false }
    guard let want else {
      if case .url = entry.source {
        Log.warn(
          "models: \(entry.dest): present, and no SHA-256 to check it against ('-' and nothing locked); put its sha256 on the manifest line"
        )
        return true
      }
      return false
    }
    if stamps.matches(entry.dest, sha: want) { return true }
    reporter.report(.models, detail: "checking the sha256 of \(entry.dest)")
    Log.info("models: \(entry.dest): present, checking its sha256")
    guard let got = try FileHasher.hash(path, checkStop: { try supervisor?.throwIfStoppedDuringModels() }) else {
      throw InitError(.models, "cannot read \(path): \(String(cString: strerror(errno))); fix its permissions")
    }
    if got == want {
      stamps.record(entry.dest, sha: want)
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
    let job = transfer.job
    let entry = job.entry
    let digest = hex(transfer.hasher.finalize())
    if let want = job.sha256, digest != want {
      let aside = ModelProvisioning.asideName(job.path)
      let kept = Glibc.rename(transfer.partialPath, aside) == 0 ? aside : transfer.partialPath
      unlink(transfer.mapPath)
      return "\(manifest):\(entry.line): \(entry.dest) arrived with sha256 \(digest), expected \(want); "
        + "kept it as \(kept), nothing placed; fix the manifest's hash or source"
    }
    guard Glibc.rename(transfer.partialPath, job.path) == 0 else {
      return
        "cannot rename \(transfer.partialPath) into place: \(String(cString: strerror(errno))); make ComfyUI/models writable"
    }
    unlink(transfer.mapPath)
    FileSystem.syncDirectory(containing: job.path)
    stamps.record(entry.dest, sha: digest)
    recordLock(entry, path: job.path, sha: digest, pinned: job.pinnedSource)
    Log.info(
      "models: placed \(entry.dest) (\(formatBytes(transfer.total ?? transfer.present)), sha256 \(job.sha256 == nil ? "locked" : "ok"), "
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
  func throwIfStoppedDuringModels(waitingMilliseconds: Int32 = 0) throws(StopRequested) {
    do { try throwIfStopped(waitingMilliseconds: waitingMilliseconds) } catch {
      Log.info("models: \(Signals.name(error.signal)): stopping; the next start resumes where this one ended")
      throw error
    }
  }
}
