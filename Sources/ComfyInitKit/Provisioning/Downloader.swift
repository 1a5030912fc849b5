// Downloads in comfy-init's one thread (HTTPClient's TransferGroup, libcurl's multi interface): a
// bounded number of transfers at once, each resumed with a Range request after a drop, retried with
// backoff on transient errors, its redirects followed here so that a token never follows a redirect
// to another origin. The wait also watches the signal fd: `docker stop` is answered at once.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

final class Downloader {
  private let group = TransferGroup()
  private let concurrency: Int
  private let tokens: TokenPolicy
  private let supervisor: Supervisor?
  private let progress: DownloadProgress
  /// Verifies and places a finished download; returns an error message.
  private let place: (Transfer) -> String?
  private var queued: [Transfer] = []
  private var active: [Transfer] = []
  private var failures: [String] = []
  /// Body bytes received over every finished transfer, for the phase's summary.
  private(set) var fetched: Int64 = 0

  static let maxFruitlessAttempts = 6
  static let maxRedirects = 10

  init(
    concurrency: Int, tokens: TokenPolicy, supervisor: Supervisor?, progress: DownloadProgress,
    place: @escaping (Transfer) -> String?
  ) {
    self.concurrency = concurrency
    self.tokens = tokens
    self.supervisor = supervisor
    self.progress = progress
    self.place = place
  }

  /// Runs every job to its end; returns one message per job that failed. Throws StopRequested.
  func run(_ jobs: [DownloadJob]) throws -> [String] {
    for job in jobs {
      guard let transfer = Transfer(job: job, checkSpace: { [unowned self] in self.spaceProblem($0, need: $1) }) else {
        report(
          "cannot start a download of \(loggable(job.entry.url)); check the URL on manifest line \(job.entry.line)")
        continue
      }
      queued.append(transfer)
    }
    progress.begin(queued)
    defer { abandonAll() }
    while true {
      try startReady()
      if active.isEmpty && queued.isEmpty { break }
      group.perform()
      let ended = try collectFinished()
      progress.tick(active + queued, force: false)
      // A slot just came free (or a redirect was queued): fill it before sleeping.
      if !ended { try waitForActivity() }
    }
    return failures
  }

  /// Fills free slots with queued transfers whose backoff is over.
  private func startReady() throws {
    var index = 0
    while active.count < concurrency && index < queued.count {
      let transfer = queued[index]
      if let due = transfer.retryAt, due.millisecondsFromNow > 0 {
        index += 1
        continue
      }
      queued.remove(at: index)
      if transfer.fd < 0, let problem = try transfer.openPartial(checkStop: checkStop) {
        fail(transfer, problem)
        continue
      }
      begin(transfer)
    }
  }

  private func begin(_ transfer: Transfer) {
    let hop = URLParts(transfer.url)
    let token = hop.flatMap { tokens.token(for: $0, origin: transfer.origin) }
    transfer.prepareAttempt(token: token)
    group.add(transfer.download)
    active.append(transfer)
  }

  /// Concludes every request libcurl reports as done; true when there was one.
  private func collectFinished() throws -> Bool {
    var ended = false
    while let (download, error) = group.nextFinished() {
      guard let index = active.firstIndex(where: { $0.download === download }) else { continue }
      try conclude(active.remove(at: index), error: error)
      ended = true
    }
    return ended
  }

  /// Decides what an ended request means: done, a redirect, a retry, or a failure.
  private func conclude(_ transfer: Transfer, error: HTTPError?) throws {
    let entry = transfer.job.entry
    let subject = "\(entry.dest) (manifest line \(entry.line))"
    if transfer.offset > transfer.download.offsetAtAttempt { transfer.fruitless = 0 }
    if let stop = transfer.download.stop {
      switch stop {
      case .write(let number):
        let reason = String(cString: strerror(number))
        return fail(
          transfer, "cannot write \(transfer.partialPath): \(reason); free space on that volume or fix its permissions")
      case .refused:
        let (need, free) = transfer.noSpace ?? (0, 0)
        return fail(
          transfer,
          "\(subject) needs \(formatBytes(need)) more but only \(formatBytes(free)) are free for \(FileSystem.parent(of: transfer.partialPath)); free space or grow the volume"
        )
      case .badRange(let what):
        Log.warn("models: \(entry.dest): \(what); starting over from 0")
        transfer.download.restartFromZero()
        return retry(transfer, reason: "a bad Content-Range")
      }
    }
    if let error {
      if error.isTransient { return retry(transfer, reason: error.message) }
      return fail(
        transfer, "\(subject): \(error.message) for \(loggable(transfer.url)); check the URL and SSL_CERT_FILE")
    }
    let status = transfer.download.status
    switch status {
    case 200, 206:
      if let total = transfer.total, transfer.offset < total { return retry(transfer, reason: "the body ended early") }
      complete(transfer)
    case 301, 302, 303, 307, 308:
      follow(transfer, status: status)
    case 416:
      // Nothing is left after `offset`: the partial file is already whole (a crash before the rename).
      if let range = FileDownload.parseContentRange(transfer.download.contentRange), range.total == transfer.offset {
        transfer.download.total = transfer.offset
        complete(transfer)
      } else {
        transfer.download.restartFromZero()
        retry(transfer, reason: "HTTP 416 for a partial file longer than the server's")
      }
    case 408, 429, 500...599:
      retry(transfer, reason: "HTTP \(status)")
    case 401, 403:
      fail(
        transfer,
        "\(subject): HTTP \(status) from \(loggable(transfer.url))\(transfer.errorSnippet); " + authHint(transfer))
    case 404, 410:
      fail(
        transfer, "\(subject): HTTP \(status), no such file at \(loggable(transfer.url)); fix the URL in the manifest")
    default:
      fail(
        transfer,
        "\(subject): unexpected HTTP \(status) from \(loggable(transfer.url))\(transfer.errorSnippet); check the URL")
    }
  }

  private func complete(_ transfer: Transfer) {
    fetched += transfer.fetched
    transfer.closePartial()
    progress.finished(transfer)
    if let problem = place(transfer) { report(problem) }
  }

  private func authHint(_ transfer: Transfer) -> String {
    if transfer.tokenSent {
      return
        "the token from \(tokens.source ?? "HF_TOKEN") was refused; check that it may read this repository and that its license is accepted"
    }
    guard let hop = URLParts(transfer.url) else { return "check the URL" }
    if tokens.token == nil { return "set HF_TOKEN or HF_TOKEN_FILE to a token that may read it" }
    if !tokens.needsToken(hop) { return "add \(hop.host) to COMFYUI_TOKEN_HOSTS if it needs the token" }
    return "the token is only sent over HTTPS to the manifest URL's own host, not after a redirect"
  }

  private func follow(_ transfer: Transfer, status: Int) {
    let entry = transfer.job.entry
    let next = transfer.download.redirectURL ?? ""
    guard let hop = URLParts(next), hop.scheme == "https" || hop.scheme == "http" else {
      return fail(transfer, "\(entry.dest): HTTP \(status) without a usable Location from \(loggable(transfer.url))")
    }
    if hop.scheme == "http", URLParts(transfer.url)?.scheme == "https" {
      return fail(
        transfer,
        "\(entry.dest): \(loggable(transfer.url)) redirects to plain HTTP (\(hop.host)); refusing the downgrade")
    }
    transfer.hops += 1
    guard transfer.hops <= Downloader.maxRedirects else {
      return fail(transfer, "\(entry.dest): more than \(Downloader.maxRedirects) redirects from \(loggable(entry.url))")
    }
    transfer.url = next
    begin(transfer)
  }

  /// Schedules another attempt from the manifest URL (signed redirect targets expire), after a backoff.
  private func retry(_ transfer: Transfer, reason: String) {
    transfer.fruitless += 1
    let entry = transfer.job.entry
    guard transfer.fruitless < Downloader.maxFruitlessAttempts else {
      return fail(
        transfer,
        "\(entry.dest) (manifest line \(entry.line)): \(reason) from \(loggable(transfer.url)), \(transfer.fruitless) attempts in a row; check the network and retry"
      )
    }
    let delay = min(30.0, Double(1 << (transfer.fruitless - 1)))
    Log.warn(
      "models: \(entry.dest): \(reason) at \(formatBytes(transfer.offset)); retrying in \(formatDuration(delay))")
    transfer.url = entry.url
    transfer.hops = 0
    transfer.retryAt = Instant.now().adding(seconds: delay)
    queued.append(transfer)
  }

  private func fail(_ transfer: Transfer, _ message: String) {
    fetched += transfer.fetched
    report(message)
    progress.finished(transfer)
    transfer.closePartial()
  }

  /// Collects a failure for the phase's error; logs it now only when other downloads go on (the
  /// last one ends up in that error, which is logged anyway).
  private func report(_ message: String) {
    failures.append(message)
    if !active.isEmpty || !queued.isEmpty { Log.error("models: " + message) }
  }

  /// Free space for the rest of `transfer`, less what the other running downloads on the same
  /// volume will still write.
  private func spaceProblem(_ transfer: Transfer, need: Int64) -> (need: Int64, free: Int64)? {
    guard need > 0, let free = FileSystem.freeBytes(at: FileSystem.parent(of: transfer.partialPath)) else { return nil }
    var promised: Int64 = 0
    for other in active where other !== transfer && other.device == transfer.device {
      if let total = other.total { promised += max(0, total - other.offset) }
    }
    let available = max(0, Int64(clamping: free) - promised)
    return need > available ? (need, available) : nil
  }

  /// Sleeps until a socket, the signal fd, a retry or a progress line is due.
  private func waitForActivity() throws {
    var timeout: Int32 = 1000
    for transfer in queued { if let due = transfer.retryAt { timeout = min(timeout, due.millisecondsFromNow) } }
    if group.wait(timeoutMilliseconds: timeout, wakingOn: supervisor?.signals.fd ?? -1) { try checkStop() }
  }

  private func checkStop() throws { try supervisor?.throwIfStoppedDuringModels() }

  /// Detaches every running transfer; partial files stay (and are flushed) for the next start.
  private func abandonAll() {
    for transfer in active {
      group.remove(transfer.download)
      if transfer.fd >= 0 { fsync(transfer.fd) }
    }
    active = []
    queued = []
  }
}

/// A URL as the log may show it (no query, no credentials).
private func loggable(_ url: String) -> String { URLParts.loggable(url) }
