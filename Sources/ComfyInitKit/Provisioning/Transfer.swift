// One model file on its way: the `DEST.partial` file, the SHA-256 running over every byte in it,
// the retries and the progress. The HTTP side (requests, Range, headers) is HTTPClient's FileDownload.
import Digest
import HTTPClient

#if canImport(Glibc)
  import Glibc
#endif

struct DownloadJob {
  var entry: ModelEntry
  /// Absolute final path, inside ComfyUI/models.
  var path: String
}

final class Transfer {
  let job: DownloadJob
  let partialPath: String
  let download: FileDownload
  let origin: URLParts
  var device: UInt64 = 0
  var hasher = SHA256()
  var hops = 0
  var tokenSent = false
  /// Set when `checkSpace` refused the rest of the file: what it needs and what is free.
  var noSpace: (need: Int64, free: Int64)? = nil

  // Retries and progress.
  /// Attempts in a row that brought no byte; a drop after progress starts the count again.
  var fruitless = 0
  var retryAt: Instant? = nil
  var started = Instant.now()
  var reportedAt = Instant.now()
  var reportedOffset: Int64 = 0

  /// The partial file (-1 while closed).
  var fd: Int32 { download.fd }
  /// Bytes in the partial file, all of them fed to `hasher`.
  var offset: Int64 { download.offset }
  /// The whole file's size, once a response told it.
  var total: Int64? { download.total }
  /// Body bytes received in this run, over every attempt.
  var fetched: Int64 { download.received }
  var url: String {
    get { download.url }
    set { download.url = newValue }
  }

  /// `checkSpace` decides, when the headers are in, whether `need` more bytes fit on the disk.
  init?(job: DownloadJob, checkSpace: @escaping (Transfer, Int64) -> (need: Int64, free: Int64)?) {
    guard let origin = URLParts(job.entry.url), let download = FileDownload(url: job.entry.url) else { return nil }
    self.job = job
    self.partialPath = job.path + ".partial"
    self.download = download
    self.origin = origin
    download.onWrite = { [unowned self] in self.hasher.update($0) }
    download.onRestart = { [unowned self] rangeIgnored in
      if rangeIgnored {
        Log.info("models: \(self.job.entry.dest): the server does not resume downloads; starting over from 0")
      }
      self.hasher = SHA256()
    }
    download.accept = { [unowned self] need in
      self.noSpace = checkSpace(self, need)
      return self.noSpace == nil
    }
  }

  deinit {
    if fd >= 0 { close(fd) }
  }

  /// Opens (or reopens) the partial file, locked so that two comfy-inits never write one file,
  /// and hashes the bytes a previous run left there. Returns an error message.
  func openPartial(checkStop: () throws -> Void) throws -> String? {
    // Never through a link, never anything but a plain file: it may be truncated and overwritten.
    var fd = open(partialPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
    if fd >= 0 && !FileSystem.isRegular(fd) {
      close(fd)
      fd = -1
      errno = ELOOP
    }
    guard fd >= 0 else {
      if errno == ELOOP { return "\(partialPath) is a link or not a regular file; move it away" }
      return "cannot create \(partialPath): \(String(cString: strerror(errno))); make ComfyUI/models writable"
    }
    // Ours from here on: closePartial (or deinit) closes it, whatever fails next.
    download.attach(fd: fd, holding: 0)
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      return "\(partialPath) is locked by another comfy-init downloading it; wait for that one to finish"
    }
    var st = stat()
    fstat(fd, &st)
    device = UInt64(st.st_dev)
    let size = Int64(st.st_size)
    download.attach(fd: fd, holding: size)
    if size > 0 {
      Log.info("models: \(job.entry.dest): resuming at \(formatBytes(size)) (hashing what is there)")
      guard try FileHasher.feed(hasher, fd: fd, length: size, checkStop: checkStop) else {
        return "cannot read \(partialPath): \(String(cString: strerror(errno))); move it away to start over"
      }
    }
    started = Instant.now()
    reportedAt = started
    reportedOffset = size
    return nil
  }

  /// Flushes and unlocks the partial file; it stays for the next start or for the rename.
  func closePartial() {
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
    download.detach()
  }

  /// Sets the next request up: `url`, for the bytes after `offset`, with the token if given.
  func prepareAttempt(token: String?) {
    noSpace = nil
    tokenSent = token != nil
    download.prepare(bearerToken: token)
  }

  /// A few words from a refusal's body, on one line, for the error message.
  var errorSnippet: String {
    let text = download.errorText
    return text.isEmpty ? "" : " (server says: \(text))"
  }
}
