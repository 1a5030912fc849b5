// Progress of the running downloads, at most every 2 s: one log line per file (bytes, rate, ETA),
// and in the status file a headline (`comfy-init health` says "provisioning 12.30/29.40 GB,
// 210.0 MB/s, ETA 1 min 21 s") with machine lines under it that `health --progress` prints for
// comfyctl to draw: `total FILES_DONE FILES BYTES_DONE BYTES_TOTAL RATE` and one
// `file BYTES_DONE BYTES_TOTAL RATE STATE DEST` per file (bytes and bytes per second; 0: unknown).

final class DownloadProgress {
  static let interval = 2.0
  /// The status file's writer, which gets the sum.
  private let reporter: PhaseReporter
  private var lastTick = Instant.now()
  private var files = 0
  private var done: [(dest: String, bytes: Int64)] = []

  init(reporter: PhaseReporter) { self.reporter = reporter }

  func begin(_ transfers: [Transfer]) {
    files = transfers.count
    tick(transfers, force: true)
  }

  func finished(_ transfer: Transfer) {
    done.append((transfer.job.entry.dest, transfer.total ?? transfer.present))
  }

  func tick(_ transfers: [Transfer], force: Bool) {
    guard force || lastTick.secondsSince >= DownloadProgress.interval else { return }
    lastTick = Instant.now()
    var bytes = done.reduce(0) { $0 + $1.bytes }
    var total: Int64? = bytes
    var rate = 0.0
    var lines: [String] = []
    for transfer in transfers {
      let present = transfer.present
      bytes += present
      total = total.flatMap { sum in transfer.total.map { sum + $0 } }
      var fileRate = 0.0
      let seconds = transfer.reportedAt.secondsSince
      if transfer.fd >= 0, seconds >= 1 {
        fileRate = Double(max(0, present - transfer.reportedOffset)) / seconds
        transfer.reportedAt = Instant.now()
        transfer.reportedOffset = present
        rate += fileRate
        var line = "models: \(transfer.job.entry.dest): \(formatBytes(present))"
        if let size = transfer.total, size > 0 { line += " of \(formatBytes(size)) (\(present * 100 / size)%)" }
        Log.info(line + ", " + formatRate(fileRate, remaining: transfer.total.map { $0 - present }))
      }
      let state = transfer.fd >= 0 ? transfer.state : "queued"
      lines.append("file \(present) \(transfer.total ?? 0) \(Int64(fileRate)) \(state) \(transfer.job.entry.dest)")
    }
    for file in done { lines.append("file \(file.bytes) \(file.bytes) 0 done \(file.dest)") }
    lines.insert("total \(done.count) \(files) \(bytes) \(total ?? 0) \(Int64(rate))", at: 0)
    var headline = total.map { formatPair(bytes, of: $0) } ?? formatBytes(bytes)
    headline += ", " + formatRate(rate, remaining: total.map { $0 - bytes })
    headline += " (\(done.count) of \(files) file\(files == 1 ? "" : "s") done)"
    reporter.report(.models, detail: headline, progress: lines)
  }
}
