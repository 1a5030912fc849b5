// Downloads in comfy-init's one thread (HTTPClient's TransferGroup, libcurl's multi interface): a
// bounded number of files at once, a large one over several ranged connections (its signed URL found
// once by a one-byte probe, found again when it expires), each request resumed after a drop, retried
// with backoff on transient errors (as Retry-After says on a 429 or 503), its redirects followed here
// so that a token never follows a redirect to another origin. The wait also watches the signal fd:
// `docker stop` is answered at once.
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

final class Downloader {
  private let group = TransferGroup()
  private let concurrency: Int
  private let connections: Int
  private let pieceSize: Int64
  /// HF_ENDPOINT: a refused Hub file names its page there (a mirror's, or the Hub's).
  private let hfEndpoint: String
  private let tokens: TokenPolicy
  private let supervisor: Supervisor?
  private let progress: DownloadProgress
  /// Verifies and places a finished download; returns an error message.
  private let place: (Transfer) -> String?
  private var queued: [Transfer] = []
  private var active: [Transfer] = []
  private var failures: [String] = []
  /// Body bytes received over every transfer, for the phase's summary.
  private(set) var fetched: Int64 = 0

  static let maxFruitlessAttempts = 6
  static let maxRedirects = 10
  /// Smaller files go over one connection: a piece costs a request.
  private var minPiecedSize: Int64 { 2 * pieceSize }

  init(
    concurrency: Int, connections: Int, pieceSize: Int64, hfEndpoint: String, tokens: TokenPolicy,
    supervisor: Supervisor?,
    progress: DownloadProgress,
    place: @escaping (Transfer) -> String?
  ) {
    self.concurrency = concurrency
    self.connections = connections
    self.pieceSize = pieceSize
    self.hfEndpoint = hfEndpoint
    self.tokens = tokens
    self.supervisor = supervisor
    self.progress = progress
    self.place = place
  }

  /// Runs every job to its end; returns one message per job that failed. Throws StopRequested.
  func run(_ jobs: [DownloadJob]) throws -> [String] {
    for job in jobs {
      guard let transfer = Transfer(job: job) else {
        report("cannot start a download of \(job.entry.source.loggable); check manifest line \(job.entry.line)")
        job.lock.release()
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
      let moreHashing = try pump()
      progress.tick(active + queued, force: false)
      if active.isEmpty && queued.isEmpty { break }
      // Sleep only when nothing is left to do but wait: bytes still to hash go on at once.
      if !ended && !moreHashing { try waitForActivity() }
    }
    return failures
  }

  // MARK: starting

  /// Opens queued files while slots are free: their partial file, their mode, their first requests.
  private func startReady() throws {
    while active.count < concurrency, !queued.isEmpty {
      let transfer = queued.removeFirst()
      active.append(transfer)
      if let problem = try open(transfer) { fail(transfer, problem) }
    }
  }

  /// Many connections when the file is large and its server serves ranges; else one stream.
  private func open(_ transfer: Transfer) throws -> String? {
    if let problem = transfer.openPartial() { return problem }
    transfer.state = "downloading"
    if connections > 1, let size = transfer.job.size, size >= minPiecedSize {
      switch try locate(transfer) {
      case .found(let url, let total, let ranges):
        transfer.url = url
        if ranges, let total, total >= minPiecedSize {
          return try transfer.beginPieces(size: total, pieceSize: pieceSize, checkStop: checkStop)
        }
        Log.info("models: \(transfer.job.entry.dest): the server does not serve ranges; one connection")
      case .refused(let message): return message
      case .again(let reason, let delay):
        // Try again as one stream later: the stream's own retries then take over.
        transfer.url = transfer.job.origin
        retryLater(transfer, reason: reason, delay: delay)
      }
    }
    return try transfer.beginStream(checkStop: checkStop)
  }

  private enum Probe {
    case found(url: String, total: Int64?, ranges: Bool)
    case refused(String)
    case again(String, Double?)
  }

  /// Asks for the file's first byte from its origin, following redirects as the token rules allow:
  /// the answer gives the signed URL the pieces go to, whether it serves ranges, and the size.
  private func locate(_ transfer: Transfer) throws -> Probe {
    var hop = transfer.job.origin
    for _ in 0...Downloader.maxRedirects {
      try checkStop()
      guard let parts = URLParts(hop) else {
        return .refused("\(transfer.job.entry.dest): a redirect to an unusable URL")
      }
      var request = HTTPRequest(url: hop, timeout: 60, connectTimeout: 30, maxBodyBytes: 64 << 10)
      request.headers = [(name: "Range", value: "bytes=0-0")]
      let token = tokens.token(for: parts, origin: transfer.origin, source: transfer.job.entry.source)
      if let token { request.headers.append((name: "Authorization", value: "Bearer " + token)) }
      let response: HTTPResponse
      do { response = try HTTPClient.send(request) } catch {
        // A server that ignores Range sends the whole file: the probe stops reading at 64 kB.
        if error.kind == .tooLarge { return .found(url: hop, total: nil, ranges: false) }
        let reason = SourceResolver.reason(error, url: hop)
        if error.isTransient { return .again(reason, nil) }
        return .refused(
          "\(transfer.job.entry.dest): \(reason) for \(URLParts.loggable(hop)); check the URL and SSL_CERT_FILE")
      }
      switch response.status {
      case 206:
        let total = response.header("content-range").flatMap(FileDownload.parseContentRange)?.total
        return .found(url: hop, total: total, ranges: total != nil)
      case 200:
        return .found(
          url: hop, total: response.header("content-length").flatMap { Int($0) }.map(Int64.init), ranges: false)
      case 301, 302, 303, 307, 308:
        guard let next = response.header("location").flatMap({ SourceResolver.absolute($0, from: hop) }) else {
          return .refused("\(transfer.job.entry.dest): HTTP \(response.status) without a usable Location")
        }
        if next.hasPrefix("http://") && hop.hasPrefix("https://") {
          return .refused(
            "\(transfer.job.entry.dest): \(URLParts.loggable(hop)) redirects to plain HTTP; refusing the downgrade")
        }
        hop = next
      case 408, 429, 500...599:
        return .again("HTTP \(response.status)", SourceResolver.serverDelay(response))
      default:
        return .refused(
          refusal(transfer, status: response.status, text: response.text, url: hop, tokenSent: token != nil))
      }
    }
    return .refused(
      "\(transfer.job.entry.dest): more than \(Downloader.maxRedirects) redirects from \(transfer.job.entry.source.loggable)"
    )
  }

  /// Keeps every open file's requests going: more pieces while connections are free, the hash
  /// caught up, the part map saved, the lock's heartbeat; a whole file is placed.
  /// Returns true when a file has bytes left to hash that are already there.
  @discardableResult
  private func pump() throws -> Bool {
    var moreHashing = false
    for transfer in active {
      transfer.job.lock.beatIfDue()
      if let due = transfer.retryAt {
        guard due.millisecondsFromNow == 0 else { continue }
        transfer.retryAt = nil
      }
      if transfer.map != nil {
        while transfer.requests.count < connections, let piece = transfer.nextPiece() {
          launch(transfer) { token in transfer.pieceRequest(piece, token: token) }
        }
        guard transfer.catchUpHash() else {
          fail(
            transfer,
            "cannot read \(transfer.partialPath): \(String(cString: strerror(errno))); move it away to start over")
          continue
        }
        transfer.saveMap()
        if transfer.isWhole && transfer.requests.isEmpty {
          complete(transfer)
        } else if transfer.hashed < (transfer.map?.contiguous ?? 0) {
          moreHashing = true
        }
      } else if transfer.requests.isEmpty, transfer.stream != nil {
        launch(transfer) { token in transfer.streamRequest(token: token) }
      }
    }
    return moreHashing
  }

  /// Sets a request up with the token its URL may carry, and starts it.
  private func launch(_ transfer: Transfer, _ make: (String?) -> FileDownload?) {
    let token = URLParts(transfer.url).flatMap {
      tokens.token(for: $0, origin: transfer.origin, source: transfer.job.entry.source)
    }
    transfer.tokenSent = token != nil
    transfer.presentAtAttempt = transfer.present
    guard let download = make(token) else { return fail(transfer, "libcurl could not start a transfer") }
    if transfer.map == nil {
      download.accept = { [unowned self, unowned transfer] need in
        transfer.noSpace = self.spaceProblem(transfer, need: need)
        return transfer.noSpace == nil
      }
    }
    group.add(download)
  }

  // MARK: ending

  /// Concludes every request libcurl reports as done; true when there was one.
  private func collectFinished() throws -> Bool {
    var ended = false
    while let (download, error) = group.nextFinished() {
      guard let transfer = active.first(where: { $0.requests.contains { $0.download === download } }),
        let request = transfer.ended(download)
      else { continue }
      try conclude(transfer, request, error: error)
      ended = true
    }
    return ended
  }

  /// Decides what an ended request means: done, a redirect, a retry, an expired URL, or a failure.
  private func conclude(_ transfer: Transfer, _ request: Transfer.Request, error: HTTPError?) throws {
    let download = request.download
    let entry = transfer.job.entry
    let subject = "\(entry.dest) (manifest line \(entry.line))"
    if transfer.present > transfer.presentAtAttempt { transfer.fruitless = 0 }
    if let stop = download.stop {
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
      case .rangeIgnored:
        Log.info("models: \(entry.dest): the server stopped serving ranges; one connection from 0")
        cancelRequests(of: transfer)
        transfer.fallBackToStream()
        if let problem = try transfer.beginStream(checkStop: checkStop) { return fail(transfer, problem) }
        return
      case .badRange(let what):
        Log.warn("models: \(entry.dest): \(what); asking again")
        if request.piece == nil { download.restartFromZero() }
        return retryLater(transfer, reason: "a bad Content-Range")
      }
    }
    if let error {
      if error.isTransient { return retryLater(transfer, reason: error.message) }
      return fail(
        transfer, "\(subject): \(error.message) for \(URLParts.loggable(transfer.url)); check the URL and SSL_CERT_FILE"
      )
    }
    let status = download.status
    if [400, 401, 403, 410].contains(status), transfer.url != transfer.job.origin {
      // A signed URL that expired (the CDN says 403, S3-style storage 400): find a new one from the
      // origin; the bytes already there stay. Twice in a row without a byte is a refusal, not an expiry.
      // A request on a URL already replaced (another piece found the expiry first) is sent again as is.
      if transfer.map != nil && download.url != transfer.url { return }
      guard transfer.present != transfer.presentAtExpiry else {
        return fail(
          transfer,
          "\(subject): "
            + refusal(
              transfer, status: status, text: download.errorText, url: transfer.url, tokenSent: transfer.tokenSent))
      }
      transfer.presentAtExpiry = transfer.present
      Log.info(
        "models: \(entry.dest): HTTP \(status) from the signed URL (expired?); asking \(entry.source.loggable) again")
      transfer.url = transfer.job.origin
      transfer.hops = 0
      if transfer.map != nil {
        switch try locate(transfer) {
        case .found(let url, _, _): transfer.url = url
        case .refused(let message): return fail(transfer, message)
        case .again(let reason, let delay): return retryLater(transfer, reason: reason, delay: delay)
        }
      }
      return retryLater(transfer, reason: "an expired signed URL", delay: 0)
    }
    switch status {
    case 200, 206:
      if request.piece != nil {
        transfer.saveMap(force: true)
        return
      }
      if let total = download.total, download.offset < total {
        return retryLater(transfer, reason: "the body ended early")
      }
      transfer.total = download.offset
      complete(transfer)
    case 301, 302, 303, 307, 308:
      follow(transfer, download)
    case 416 where request.piece == nil:
      // Nothing is left after the file's length: it is already whole (a crash before the rename).
      if let range = FileDownload.parseContentRange(download.contentRange), range.total == download.offset {
        transfer.total = download.offset
        complete(transfer)
      } else {
        download.restartFromZero()
        retryLater(transfer, reason: "HTTP 416 for a partial file longer than the server's")
      }
    case 408, 429, 500...599:
      let asked = SourceResolver.serverDelay(
        rateLimit: download.header("ratelimit"), retryAfter: download.header("retry-after"))
      retryLater(transfer, reason: "HTTP \(status)", delay: asked)
    case 404, 410:
      fail(
        transfer,
        "\(subject): HTTP \(status), no such file at \(URLParts.loggable(transfer.url)); fix the source in the manifest"
      )
    default:
      fail(
        transfer,
        "\(subject): "
          + refusal(
            transfer, status: status, text: download.errorText, url: transfer.url, tokenSent: transfer.tokenSent))
    }
  }

  private func follow(_ transfer: Transfer, _ download: FileDownload) {
    let entry = transfer.job.entry
    let next = download.redirectURL ?? ""
    guard let hop = URLParts(next), hop.scheme == "https" || hop.scheme == "http" else {
      return fail(
        transfer,
        "\(entry.dest): HTTP \(download.status) without a usable Location from \(URLParts.loggable(transfer.url))")
    }
    if hop.scheme == "http", URLParts(transfer.url)?.scheme == "https" {
      return fail(
        transfer,
        "\(entry.dest): \(URLParts.loggable(transfer.url)) redirects to plain HTTP (\(hop.host)); refusing the downgrade"
      )
    }
    transfer.hops += 1
    guard transfer.hops <= Downloader.maxRedirects else {
      return fail(
        transfer, "\(entry.dest): more than \(Downloader.maxRedirects) redirects from \(entry.source.loggable)")
    }
    transfer.url = next
    // The next pump sends the request again, to the new place.
  }

  /// A sentence for a refusal (401, 403, others), by source.
  private func refusal(_ transfer: Transfer, status: Int, text: String, url: String, tokenSent: Bool) -> String {
    let said = text.isEmpty ? "" : " (server says: \(text.prefix(160)))"
    let service = URLParts(url).flatMap { tokens.service(for: $0, source: transfer.job.entry.source) }
    switch transfer.job.entry.source {
    case .civitai(let id):
      return SourceResolver.explainCivitai(status: status, text: text, id: id, hasToken: tokenSent)
    case .hub(let file) where status == 401 || status == 403:
      return tokenSent
        ? "your token (\(service?.source ?? "HF_TOKEN")) has no access to \(file.repo): ask for access at \(file.page(endpoint: hfEndpoint))"
        : "\(file.repo) needs a token: accept its licence on the Hub, then give the token (comfyctl secrets hf-token)"
    default:
      guard status == 401 || status == 403 else {
        return "unexpected HTTP \(status) from \(URLParts.loggable(url))\(said); check the source"
      }
      if tokenSent {
        return
          "HTTP \(status) from \(URLParts.loggable(url))\(said): the \(service?.name ?? "") token from \(service?.source ?? "its variable") was refused; check that it may read this file"
      }
      guard let parts = URLParts(url) else { return "HTTP \(status)\(said); check the URL" }
      if let service, service.token == nil {
        return "HTTP \(status) from \(URLParts.loggable(url))\(said); give a token: \(service.howToGive)"
      }
      if service == nil {
        if tokens.services.allSatisfy({ $0.token == nil }) {
          return
            "HTTP \(status) from \(URLParts.loggable(url))\(said); set HF_TOKEN_FILE (comfyctl secrets hf-token) to a token that may read it, and add \(parts.host) to COMFYUI_TOKEN_HOSTS"
        }
        return
          "HTTP \(status) from \(URLParts.loggable(url))\(said); add \(parts.host) to COMFYUI_TOKEN_HOSTS if it needs the Hugging Face token"
      }
      return
        "HTTP \(status) from \(URLParts.loggable(url))\(said); the token is only sent over HTTPS to the source's own host, not after a redirect"
    }
  }

  private func complete(_ transfer: Transfer) {
    fetched += transfer.fetched
    transfer.closePartial()
    active.removeAll { $0 === transfer }
    progress.finished(transfer)
    if let problem = place(transfer) { report(problem) }
    transfer.job.lock.release()
  }

  /// Schedules the next attempt after a backoff (or the server's delay); the bytes there stay.
  private func retryLater(_ transfer: Transfer, reason: String, delay: Double? = nil) {
    if transfer.present <= transfer.presentAtAttempt { transfer.fruitless += 1 }
    let entry = transfer.job.entry
    guard transfer.fruitless < Downloader.maxFruitlessAttempts else {
      return fail(
        transfer,
        "\(entry.dest) (manifest line \(entry.line)): \(reason) from \(URLParts.loggable(transfer.url)), \(transfer.fruitless) attempts in a row; check the network and retry"
      )
    }
    let wait = min(SourceResolver.maxWait, delay ?? min(30.0, Double(1 << max(0, transfer.fruitless - 1))))
    if wait > 0 {
      Log.warn(
        "models: \(entry.dest): \(reason) at \(formatBytes(transfer.present)); retrying in \(formatDuration(wait))")
    }
    if transfer.map == nil {
      // One stream starts again from the origin: a signed redirect target may have expired.
      transfer.url = transfer.job.origin
      transfer.hops = 0
    }
    transfer.retryAt = Instant.now().adding(seconds: wait)
  }

  private func fail(_ transfer: Transfer, _ message: String) {
    cancelRequests(of: transfer)
    fetched += transfer.fetched
    report(message)
    progress.finished(transfer)
    transfer.closePartial()
    active.removeAll { $0 === transfer }
    transfer.job.lock.release()
  }

  private func cancelRequests(of transfer: Transfer) {
    for request in transfer.requests {
      group.remove(request.download)
      _ = transfer.ended(request.download)
    }
  }

  /// Collects a failure for the phase's error; logs it now only when other downloads go on (the
  /// last one ends up in that error, which is logged anyway).
  private func report(_ message: String) {
    failures.append(message)
    if !active.isEmpty || !queued.isEmpty { Log.error("models: " + message) }
  }

  /// Free space for the rest of a one-stream file whose size the server just told, less what the
  /// other running downloads will still write (the manifest's disk check ran before, with estimates).
  private func spaceProblem(_ transfer: Transfer, need: Int64) -> (need: Int64, free: Int64)? {
    guard need > 0, let free = FileSystem.freeBytes(at: FileSystem.parent(of: transfer.partialPath)) else { return nil }
    var promised: Int64 = 0
    for other in active where other !== transfer {
      if let total = other.total { promised += max(0, total - other.present) }
    }
    let available = max(0, Int64(clamping: free) - promised)
    return need > available ? (need, available) : nil
  }

  /// Sleeps until a socket, the signal fd, a retry or a progress line is due.
  private func waitForActivity() throws {
    var timeout: Int32 = 1000
    for transfer in active { if let due = transfer.retryAt { timeout = min(timeout, due.millisecondsFromNow) } }
    if group.wait(timeoutMilliseconds: timeout, wakingOn: supervisor?.signals.fd ?? -1) { try checkStop() }
  }

  private func checkStop() throws { try supervisor?.throwIfStoppedDuringModels() }

  /// Detaches every running request; partial files and part maps stay (flushed) for the next start.
  private func abandonAll() {
    for transfer in active {
      cancelRequests(of: transfer)
      transfer.closePartial()
      transfer.job.lock.release()
    }
    for transfer in queued { transfer.job.lock.release() }
    active = []
    queued = []
  }
}
