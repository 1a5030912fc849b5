// One model file on its way: the `DEST.partial` file, the SHA-256 running over its bytes in order,
// and the requests that fill it. A large file whose server serves ranges is fetched in pieces over
// several connections at once (PartMap says which bytes are there); anything else over one stream
// whose length is its progress. The HTTP side of each request is HTTPClient's FileDownload; which
// request goes where, and what an answer means, is the Downloader's.
import Digest
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

struct DownloadJob {
  var entry: ModelEntry
  /// Absolute final path, inside ComfyUI/models.
  var path: String
  /// Where requests start (with the token when its host is the token's).
  var origin: String
  /// The SHA-256 the file must have (manifest, lock or source), nil when nothing says.
  var sha256: String?
  /// The size the source announced, nil when unknown.
  var size: Int64?
  /// The source as the lock writes it: a part map from another source is not reused.
  var pinnedSource: String
  var lock: DestinationLock
}

final class Transfer {
  /// A request in flight: which piece it fills (nil: the one stream).
  struct Request {
    let download: FileDownload
    let piece: Int?
  }

  let job: DownloadJob
  let partialPath: String
  var mapPath: String { partialPath + ".parts" }
  let origin: URLParts
  /// Where the next request goes: the origin, or the signed URL it redirected to.
  var url: String
  var fd: Int32 = -1
  var hasher = SHA256()
  /// Bytes from 0 fed to `hasher`.
  var hashed: Int64 = 0
  /// The whole size, once known.
  var total: Int64?
  /// Many-connection mode: which bytes are there. nil: one stream.
  var map: PartMap? = nil
  /// Pieces a request is filling now.
  var busyPieces = Set<Int>()
  /// The stream's request (its offset is the file's length), or nil in many-connection mode.
  var stream: FileDownload? = nil
  var requests: [Request] = []
  private var spare: [FileDownload] = []
  var tokenSent = false
  /// Set when `checkSpace` refused the rest of the file: what it needs and what is free.
  var noSpace: (need: Int64, free: Int64)? = nil
  var hops = 0

  // Retries and progress.
  /// Attempts in a row that brought no byte; a drop after progress starts the count again.
  var fruitless = 0
  var retryAt: Instant? = nil
  /// `present` when the last attempt began, to tell progress from none.
  var presentAtAttempt: Int64 = 0
  /// `present` at the last expired signed URL: a second one with no byte between is a refusal.
  var presentAtExpiry: Int64 = -1
  var savedAt = Instant.now()
  var started = Instant.now()
  var reportedAt = Instant.now()
  var reportedOffset: Int64 = 0
  /// Body bytes received in this run, over every request.
  var fetched: Int64 = 0
  /// What the progress lines call it.
  var state = "queued"

  init?(job: DownloadJob) {
    guard let origin = URLParts(job.origin) else { return nil }
    self.job = job
    self.partialPath = job.path + ".partial"
    self.origin = origin
    self.url = job.origin
    total = job.size
  }

  deinit {
    if fd >= 0 { close(fd) }
    hashBuffer?.deallocate()
  }

  /// Bytes of the file in the partial file.
  var present: Int64 { map?.bytesPresent ?? stream?.offset ?? 0 }

  /// Opens (or reopens) the partial file. Returns an error message.
  func openPartial() -> String? {
    // Never through a link, never anything but a plain file: it may be truncated and overwritten.
    var opened = open(partialPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
    if opened >= 0 && !FileSystem.isRegular(opened) {
      close(opened)
      opened = -1
      errno = ELOOP
    }
    guard opened >= 0 else {
      if errno == ELOOP { return "\(partialPath) is a link or not a regular file; move it away" }
      return "cannot create \(partialPath): \(String(cString: strerror(errno))); make ComfyUI/models writable"
    }
    fd = opened
    started = Instant.now()
    reportedAt = started
    return nil
  }

  /// One stream from the partial file's length on: hashes what a previous run left there.
  func beginStream(checkStop: () throws -> Void) throws -> String? {
    if FileSystem.exists(mapPath) {
      // The bytes of a many-connection download have gaps: one stream cannot resume them.
      ftruncate(fd, 0)
      unlink(mapPath)
    }
    guard let download = FileDownload(url: url) else { return "libcurl could not start a transfer" }
    var st = stat()
    fstat(fd, &st)
    let size = Int64(st.st_size)
    download.attach(fd: fd, holding: size)
    download.onWrite = { [unowned self] _, bytes in
      self.hasher.update(bytes)
      self.hashed += Int64(bytes.count)
      self.fetched += Int64(bytes.count)
    }
    download.onRestart = { [unowned self] rangeIgnored in
      if rangeIgnored {
        Log.info("models: \(self.job.entry.dest): the server does not resume downloads; starting over from 0")
      }
      self.hasher = SHA256()
      self.hashed = 0
    }
    stream = download
    if size > 0 {
      Log.info("models: \(job.entry.dest): resuming at \(formatBytes(size)) (hashing what is there)")
      guard try FileHasher.feed(hasher, fd: fd, length: size, checkStop: checkStop) else {
        return "cannot read \(partialPath): \(String(cString: strerror(errno))); move it away to start over"
      }
      hashed = size
    }
    reportedOffset = size
    return nil
  }

  /// Many connections: takes over the part map a previous run saved, or starts a new one.
  func beginPieces(size: Int64, pieceSize: Int64, checkStop: () throws -> Void) throws -> String? {
    if let saved = PartMap.read(mapPath, size: size, source: job.pinnedSource) {
      map = saved
      let have = saved.bytesPresent
      if have > 0 {
        Log.info("models: \(job.entry.dest): resuming with \(formatBytes(have)) of \(formatBytes(size)) there")
      }
    } else {
      ftruncate(fd, 0)
      map = PartMap(size: size, source: job.pinnedSource, pieceSize: pieceSize)
      map?.save(mapPath)
    }
    total = size
    guard ftruncate(fd, off_t(size)) == 0 else {
      return
        "cannot size \(partialPath) to \(formatBytes(size)): \(String(cString: strerror(errno))); free space on that volume"
    }
    let prefix = map!.contiguous
    if prefix > 0 {
      guard try FileHasher.feed(hasher, fd: fd, length: prefix, checkStop: checkStop) else {
        return "cannot read \(partialPath): \(String(cString: strerror(errno))); move it away to start over"
      }
      hashed = prefix
    }
    reportedOffset = map!.bytesPresent
    return nil
  }

  /// Gives up the pieces for one stream from 0 (a server that stopped serving ranges).
  func fallBackToStream() {
    map = nil
    busyPieces = []
    unlink(mapPath)
    ftruncate(fd, 0)
    hasher = SHA256()
    hashed = 0
  }

  /// The next piece no request fills and that is not complete.
  func nextPiece() -> Int? {
    guard let map else { return nil }
    return map.done.indices.first { !map.isComplete($0) && !busyPieces.contains($0) }
  }

  /// A request set up for `piece` (the bytes after what it holds) at `url`.
  func pieceRequest(_ piece: Int, token: String?) -> FileDownload? {
    guard let map, let download = spare.popLast() ?? FileDownload(url: url) else { return nil }
    download.url = url
    download.attach(fd: fd, holding: map.start(piece) + map.done[piece])
    download.end = map.start(piece) + map.length(piece) - 1
    download.onWrite = { [unowned self] position, bytes in self.wrote(piece, at: position, bytes) }
    download.prepare(bearerToken: token)
    busyPieces.insert(piece)
    requests.append(Request(download: download, piece: piece))
    return download
  }

  /// The stream's request, set up for the bytes after the file's length.
  func streamRequest(token: String?) -> FileDownload? {
    guard let stream else { return nil }
    noSpace = nil
    stream.url = url
    stream.prepare(bearerToken: token)
    requests.append(Request(download: stream, piece: nil))
    return stream
  }

  /// A request ended: it no longer fills its piece, and its handle can serve another.
  func ended(_ download: FileDownload) -> Request? {
    guard let index = requests.firstIndex(where: { $0.download === download }) else { return nil }
    let request = requests.remove(at: index)
    if let piece = request.piece {
      busyPieces.remove(piece)
      download.detach()
      spare.append(download)
    }
    return request
  }

  private func wrote(_ piece: Int, at position: Int64, _ bytes: UnsafeRawBufferPointer) {
    map?.done[piece] += Int64(bytes.count)
    fetched += Int64(bytes.count)
    // In order: hashed as it arrives. Out of order: read back once the gap before it is filled.
    if position == hashed {
      hasher.update(bytes)
      hashed += Int64(bytes.count)
    }
  }

  private var hashBuffer: UnsafeMutableRawBufferPointer? = nil

  /// Hashes what arrived out of order once the bytes before it are there, at most `budget` bytes
  /// per call so the other connections are not kept waiting. Returns false on a read error.
  func catchUpHash(budget: Int64 = 64 << 20) -> Bool {
    guard let map, hashed < map.contiguous else { return true }
    let frontier = map.contiguous
    if hashBuffer == nil { hashBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16) }
    let buffer = hashBuffer!
    var left = budget
    while hashed < frontier && left > 0 {
      let want = Int(min(Int64(buffer.count), frontier - hashed, left))
      let n = pread(fd, buffer.baseAddress, want, off_t(hashed))
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return false }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      hashed += Int64(n)
      left -= Int64(n)
    }
    return true
  }

  /// Whole: every byte there and hashed.
  var isWhole: Bool {
    guard let map else { return false }
    return map.isComplete && hashed == map.size
  }

  /// Saves the part map every few seconds (and when asked): a SIGKILL loses at most that much.
  func saveMap(force: Bool = false) {
    guard let map, force || savedAt.secondsSince >= 5 else { return }
    savedAt = Instant.now()
    map.save(mapPath)
  }

  /// Flushes and closes the partial file (it stays for the next start or for the rename).
  func closePartial() {
    guard fd >= 0 else { return }
    fsync(fd)
    saveMap(force: true)
    close(fd)
    fd = -1
    stream?.detach()
  }

  /// A few words from a refusal's body, on one line, for the error message.
  func errorSnippet(_ download: FileDownload) -> String {
    let text = download.errorText
    return text.isEmpty ? "" : " (server says: \(text))"
  }
}
