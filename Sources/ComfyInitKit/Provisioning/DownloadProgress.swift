// Progress of the running downloads, at most every 2 s: one log line per file (bytes, rate, ETA),
// and the sum of them in the status file's detail, which `comfy-init health` shows while the
// server is not up yet ("provisioning: ..., 1 of 3 files done, 5.10 GB of 29.40 GB, ...").

final class DownloadProgress {
  static let interval = 2.0
  /// The status file's writer, which gets the sum.
  private let reporter: PhaseReporter
  private var lastTick = Instant.now()
  private var files = 0
  private var done = 0
  private var doneBytes: Int64 = 0

  init(reporter: PhaseReporter) { self.reporter = reporter }

  func begin(_ transfers: [Transfer]) {
    files = transfers.count
    writeStatus("downloading \(files) file\(files == 1 ? "" : "s")")
  }

  func finished(_ transfer: Transfer) {
    done += 1
    doneBytes += transfer.offset
  }

  func tick(_ transfers: [Transfer], force: Bool) {
    guard force || lastTick.secondsSince >= DownloadProgress.interval else { return }
    lastTick = Instant.now()
    var bytes = doneBytes
    var total: Int64? = doneBytes
    var rate = 0.0
    for transfer in transfers {
      bytes += transfer.offset
      total = total.flatMap { sum in transfer.total.map { sum + $0 } }
      guard transfer.fd >= 0, transfer.retryAt.map({ $0.millisecondsFromNow == 0 }) ?? true else { continue }
      let seconds = transfer.reportedAt.secondsSince
      guard seconds >= 1 else { continue }
      let fileRate = Double(max(0, transfer.offset - transfer.reportedOffset)) / seconds
      transfer.reportedAt = Instant.now()
      transfer.reportedOffset = transfer.offset
      rate += fileRate
      var line = "models: \(transfer.job.entry.dest): \(formatBytes(transfer.offset))"
      if let size = transfer.total, size > 0 {
        line += " of \(formatBytes(size)) (\(transfer.offset * 100 / size)%)"
      }
      Log.info(line + ", " + formatRate(fileRate, remaining: transfer.total.map { $0 - transfer.offset }))
    }
    var detail = "\(done) of \(files) files done, \(formatBytes(bytes))"
    if let total { detail += " of \(formatBytes(total))" }
    writeStatus(detail + ", " + formatRate(rate, remaining: total.map { $0 - bytes }))
  }

  private func writeStatus(_ detail: String) {
    reporter.report(.models, detail: detail)
  }
}
