// One model file on its way: the `DEST.partial` file, the SHA-256 running over every byte in it,
// and what the response being received said. libcurl's callbacks land here.
import CCurl
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct DownloadJob {
  var entry: ModelEntry
  /// Absolute final path, inside ComfyUI/models.
  var path: String
}

final class Transfer {
  /// Why a callback stopped the transfer (libcurl then reports a write error).
  enum Stop {
    case write(Int32)
    case noSpace(need: Int64, free: Int64)
    case badRange(String)
  }

  let job: DownloadJob
  let partialPath: String
  let handle: UnsafeMutableRawPointer
  let origin: URLParts
  /// Decides, when the headers are in, whether the rest fits on the disk.
  let checkSpace: (Transfer, Int64) -> Stop?
  var fd: Int32 = -1
  var device: UInt64 = 0
  var hasher = SHA256()
  /// Bytes in the partial file, all of them fed to `hasher`.
  var offset: Int64 = 0
  /// The whole file's size, once a response told it.
  var total: Int64? = nil
  var url: String
  var hops = 0
  var tokenSent = false
  private var headerList: UnsafeMutablePointer<curl_slist>? = nil

  // The response being received.
  var status = 0
  var contentLength: Int64? = nil
  var contentRange = ""
  var bodyAccepted = false
  var errorBody: [UInt8] = []
  var stop: Stop? = nil

  // Retries and progress.
  /// Attempts in a row that brought no byte; a drop after progress starts the count again.
  var fruitless = 0
  var offsetAtAttempt: Int64 = 0
  var retryAt: Instant? = nil
  /// Body bytes received in this run, over every attempt.
  var fetched: Int64 = 0
  var started = Instant.now()
  var reportedAt = Instant.now()
  var reportedOffset: Int64 = 0

  init?(job: DownloadJob, checkSpace: @escaping (Transfer, Int64) -> Stop?) {
    guard let origin = URLParts(job.entry.url), let handle = curl_easy_init() else { return nil }
    self.job = job
    self.partialPath = job.path + ".partial"
    self.handle = handle
    self.origin = origin
    self.url = job.entry.url
    self.checkSpace = checkSpace
  }

  deinit {
    curl_easy_cleanup(handle)
    curl_slist_free_all(headerList)
    if fd >= 0 { close(fd) }
  }

  /// Opens (or reopens) the partial file, locked so that two comfy-inits never write one file,
  /// and hashes the bytes a previous run left there. Returns an error message.
  func openPartial(checkStop: () throws -> Void) throws -> String? {
    // Never through a link, never anything but a plain file: it may be truncated and overwritten.
    fd = open(partialPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
    if fd >= 0 && !FileSystem.isRegular(fd) {
      close(fd)
      fd = -1
      errno = ELOOP
    }
    guard fd >= 0 else {
      if errno == ELOOP { return "\(partialPath) is a link or not a regular file; move it away" }
      return "cannot create \(partialPath): \(String(cString: strerror(errno))); make ComfyUI/models writable"
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      return "\(partialPath) is locked by another comfy-init downloading it; wait for that one to finish"
    }
    var st = stat()
    fstat(fd, &st)
    device = UInt64(st.st_dev)
    offset = Int64(st.st_size)
    if offset > 0 {
      Log.info("models: \(job.entry.dest): resuming at \(formatBytes(offset)) (hashing what is there)")
      guard try FileHasher.feed(hasher, fd: fd, length: offset, checkStop: checkStop) else {
        return "cannot read \(partialPath): \(String(cString: strerror(errno))); move it away to start over"
      }
    }
    started = Instant.now()
    reportedAt = started
    reportedOffset = offset
    return nil
  }

  /// Flushes and unlocks the partial file; it stays for the next start or for the rename.
  func closePartial() {
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
    fd = -1
  }

  /// Throws away what the partial file holds: the server sent something other than its rest.
  func restartFromZero() {
    ftruncate(fd, 0)
    hasher = SHA256()
    offset = 0
    total = nil
  }

  /// Sets the handle up for one request of `url`, asking for the bytes after `offset`.
  func prepareAttempt(token: String?, caBundle: String?) {
    // A previous attempt that failed mid-write may have left bytes past `offset`.
    ftruncate(fd, off_t(offset))
    status = 0
    contentLength = nil
    contentRange = ""
    bodyAccepted = false
    errorBody = []
    stop = nil
    offsetAtAttempt = offset
    tokenSent = token != nil

    curl_easy_reset(handle)
    _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
    _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    // Redirects are followed by the downloader, which decides per hop whether the token goes along.
    _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
    _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 30)
    // A stalled connection (under 1 kB/s for a minute) is a transient error: retried, resumed.
    _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
    _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, 60)
    _ = ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, 1 << 20)
    _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
    _ = ccurl_setopt_long(handle, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
    _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "comfy-init")
    if let caBundle { _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, caBundle) }
    curl_slist_free_all(headerList)
    headerList = token.map { curl_slist_append(nil, "Authorization: Bearer " + $0) }
    _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
    if offset > 0 { _ = ccurl_setopt_string(handle, CURLOPT_RANGE, "\(offset)-") }
    let me = Unmanaged.passUnretained(self).toOpaque()
    _ = ccurl_setopt_write(handle) { data, size, count, user in
      let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
      return transfer.receive(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, me)
    _ = ccurl_setopt_header(handle) { data, size, count, user in
      let transfer = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
      return transfer.header(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, me)
  }

  private func header(_ raw: UnsafeRawBufferPointer) -> Bool {
    // Trimmed as bytes: in a Swift String "\r\n" is one Character, which hasSuffix("\n") misses.
    var bytes = raw[...]
    while let last = bytes.last, last == 10 || last == 13 { bytes = bytes.dropLast() }
    let line = String(decoding: bytes, as: UTF8.self)
    if line.hasPrefix("HTTP/") {
      let parts = line.split(separator: " ")
      status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
      contentLength = nil
      contentRange = ""
    } else if let colon = line.firstIndex(of: ":") {
      let name = line[..<colon].lowercased()
      let value = String(line[line.index(after: colon)...]).trimmingWhitespace()
      // Int(String) rather than Int64(_:): the binary already has that parser (it is 64-bit only).
      if name == "content-length" { contentLength = Int(value).map(Int64.init) }
      if name == "content-range" { contentRange = value }
    } else if line.isEmpty, status >= 200 {
      return headersComplete()
    }
    return true
  }

  /// The final response's headers are in: check that its body is the rest of our file.
  private func headersComplete() -> Bool {
    guard status == 200 || status == 206 else { return true }
    if status == 206 {
      guard let range = Transfer.parseContentRange(contentRange), range.start == offset else {
        stop = .badRange("asked for bytes from \(offset), got '\(contentRange)'")
        return false
      }
      total = range.total
    } else {
      if offset > 0 {
        // The server ignored the Range request: its 200 carries the whole file from byte 0.
        Log.info("models: \(job.entry.dest): the server does not resume downloads; starting over from 0")
        restartFromZero()
      }
      total = contentLength
    }
    if let total, let stop = checkSpace(self, total - offset) {
      self.stop = stop
      return false
    }
    bodyAccepted = true
    return true
  }

  private func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard bodyAccepted else {
      // A refusal's body often says why (a gated model, an expired link): keep its start.
      if errorBody.count < 160 { errorBody.append(contentsOf: bytes.prefix(160 - errorBody.count)) }
      return true
    }
    var done = 0
    while done < bytes.count {
      let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
      if n < 0 {
        if errno == EINTR { continue }
        stop = .write(errno)
        return false
      }
      done += n
    }
    hasher.update(bytes)
    offset += Int64(bytes.count)
    fetched += Int64(bytes.count)
    return true
  }

  /// "bytes 100-199/1000" → (100, 1000); "bytes */1000" (a 416's) → (-1, 1000); total nil for "/*".
  static func parseContentRange(_ value: String) -> (start: Int64, total: Int64?)? {
    guard value.hasPrefix("bytes "), let slash = value.lastIndex(of: "/") else { return nil }
    let span = value[value.index(value.startIndex, offsetBy: 6)..<slash]
    let total = Int(String(value[value.index(after: slash)...])).map(Int64.init)
    if span == "*" { return (-1, total) }
    guard let dash = span.firstIndex(of: "-"), let start = Int(String(span[..<dash])) else { return nil }
    return (Int64(start), total)
  }

  /// A few words from a refusal's body, on one line, for the error message.
  var errorSnippet: String {
    let flat = String(decoding: errorBody.prefix(160).map { $0 < 32 ? 32 : $0 }, as: UTF8.self).trimmingWhitespace()
    return flat.isEmpty ? "" : " (server says: \(flat))"
  }
}
