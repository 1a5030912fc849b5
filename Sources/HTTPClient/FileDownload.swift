// Downloads into files with libcurl's multi interface, in the caller's one thread: `FileDownload` is
// one file's requests (a Range request resumes after the bytes the file already holds, a 200 to it
// starts over from 0), `TransferGroup` runs several at once and waits on their sockets and one more fd.
// What to fetch, redirects, tokens, retries and hashing stay with the caller.
import CCurl

#if canImport(Glibc)
  import Glibc
#endif

public final class FileDownload {
  /// Why a callback stopped the request (libcurl then reports a write error).
  public enum Stop {
    case write(Int32)
    case badRange(String)
    /// `accept` said no.
    case refused
    /// A piece's ranged request was answered with the whole file (200): the server has no ranges.
    case rangeIgnored
  }

  let easy: CurlEasy
  /// The request's URL (a redirect's target, once the caller follows one).
  public var url: String
  /// The file the body is written to (opened, locked and closed by the caller); -1 when none.
  public private(set) var fd: Int32 = -1
  /// Bytes in the file.
  public private(set) var offset: Int64 = 0
  /// The whole file's size, once a response told it.
  public var total: Int64? = nil
  /// `offset` when the current request started.
  public private(set) var offsetAtAttempt: Int64 = 0
  /// Body bytes written over every request.
  public private(set) var received: Int64 = 0
  public private(set) var stop: Stop? = nil
  /// The last response's Content-Range ("" when none).
  public private(set) var contentRange = ""
  private var bodyAccepted = false
  private var errorBody: [UInt8] = []

  /// The last byte a piece asks for (inclusive); nil: everything from `offset` on, the whole rest.
  public var end: Int64? = nil
  /// Every byte range written to the file, with the position it went to (to hash it on the way).
  public var onWrite: (_ position: Int64, UnsafeRawBufferPointer) -> Void = { _, _ in }
  /// The file was emptied; `rangeIgnored` when the server answered a Range request with the whole file.
  public var onRestart: (_ rangeIgnored: Bool) -> Void = { _ in }
  /// The final response's body is the rest of the file, `need` more bytes: false refuses it (no room).
  public var accept: (_ need: Int64) -> Bool = { _ in true }

  public init?(url: String) {
    guard let easy = CurlEasy() else { return nil }
    self.easy = easy
    self.url = url
    easy.onHeaders = { [unowned self] in self.headersComplete() }
    easy.onBody = { [unowned self] in self.receive($0) }
  }

  /// The file to write to, holding `bytes` already (they are not fetched again).
  public func attach(fd: Int32, holding bytes: Int64) {
    self.fd = fd
    offset = bytes
  }

  /// Forgets the file (the caller closed it); `offset` still says how much it held.
  public func detach() { fd = -1 }

  /// Empties the file: the server sent something other than its rest.
  public func restartFromZero() { restart(rangeIgnored: false) }

  private func restart(rangeIgnored: Bool) {
    ftruncate(fd, 0)
    offset = 0
    total = nil
    onRestart(rangeIgnored)
  }

  /// Sets the request up: `url`, asking for the bytes after `offset`, with the token if given.
  public func prepare(bearerToken: String?) {
    // A previous request that failed mid-write may have left bytes past `offset` (a piece's file
    // has its whole size already: the part map, not the length, says what is there).
    if end == nil { ftruncate(fd, off_t(offset)) }
    contentRange = ""
    bodyAccepted = false
    errorBody = []
    stop = nil
    offsetAtAttempt = offset
    var settings = CurlEasy.Settings(url: url, connectTimeout: 30)
    settings.headers = bearerToken.map { ["Authorization: Bearer " + $0] } ?? []
    // A stalled connection (under 1 kB/s for a minute) is a transient error: retried, resumed.
    settings.lowSpeed = (1024, 60)
    settings.bufferSize = 1 << 20
    settings.keepAlive = true
    if let end {
      settings.range = "\(offset)-\(end)"
    } else if offset > 0 {
      settings.range = "\(offset)-"
    }
    // Redirects are not followed here: the caller decides per hop whether the token goes along.
    easy.configure(settings)
  }

  /// The final response's status code.
  public var status: Int { easy.responseCode }

  /// A 3xx's target.
  public var redirectURL: String? { easy.redirectURL }

  /// The last response's header of that name (Retry-After, RateLimit).
  public func header(_ name: String) -> String? { easy.head.last(name) }

  /// The final response's headers are in: check that its body is the rest of our file.
  private func headersComplete() -> Bool {
    let status = easy.head.status
    contentRange = easy.head.last("content-range") ?? ""
    guard status == 200 || status == 206 else { return true }
    if status == 200, end != nil {
      stop = .rangeIgnored
      return false
    }
    if status == 206 {
      guard let range = FileDownload.parseContentRange(contentRange), range.start == offset else {
        stop = .badRange("asked for bytes from \(offset), got '\(contentRange)'")
        return false
      }
      total = range.total
    } else {
      // The server ignored the Range request: its 200 carries the whole file from byte 0.
      if offset > 0 { restart(rangeIgnored: true) }
      // Int(String) rather than Int64(_:): the binary already has that parser (it is 64-bit only).
      total = easy.head.last("content-length").flatMap { Int($0) }.map(Int64.init)
    }
    if end == nil, let total, !accept(total - offset) {
      stop = .refused
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
    if let end, offset + Int64(bytes.count) > end + 1 {
      stop = .badRange("got more than the bytes up to \(end)")
      return false
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
    onWrite(offset, bytes)
    offset += Int64(bytes.count)
    received += Int64(bytes.count)
    return true
  }

  /// "bytes 100-199/1000" → (100, 1000); "bytes */1000" (a 416's) → (-1, 1000); total nil for "/*".
  public static func parseContentRange(_ value: String) -> (start: Int64, total: Int64?)? {
    guard value.hasPrefix("bytes "), let slash = value.lastIndex(of: "/") else { return nil }
    let span = value[value.index(value.startIndex, offsetBy: 6)..<slash]
    let total = Int(String(value[value.index(after: slash)...])).map(Int64.init)
    if span == "*" { return (-1, total) }
    guard let dash = span.firstIndex(of: "-"), let start = Int(String(span[..<dash])) else { return nil }
    return (Int64(start), total)
  }

  /// The start of a refusal's body, on one line, for an error message ("" when there was none).
  public var errorText: String {
    var flat = String(decoding: errorBody.prefix(160).map { $0 < 32 ? 32 : $0 }, as: UTF8.self)
    while let first = flat.first, first.isWhitespace { flat.removeFirst() }
    while let last = flat.last, last.isWhitespace { flat.removeLast() }
    return flat
  }
}

/// Several `FileDownload`s at once over libcurl's multi interface.
public final class TransferGroup {
  private let multi: UnsafeMutableRawPointer
  private var members: [FileDownload] = []

  public init() {
    _ = Curl.globalInit
    multi = curl_multi_init()
  }

  deinit { curl_multi_cleanup(multi) }

  /// Starts a prepared request.
  public func add(_ download: FileDownload) {
    curl_multi_add_handle(multi, download.easy.handle)
    members.append(download)
  }

  /// Stops a request without ending it (its file keeps what arrived).
  public func remove(_ download: FileDownload) {
    curl_multi_remove_handle(multi, download.easy.handle)
    members.removeAll { $0 === download }
  }

  /// Moves every request on as far as its sockets allow, without waiting.
  public func perform() {
    var running: Int32 = 0
    curl_multi_perform(multi, &running)
  }

  /// The next request that ended, taken out of the group, with libcurl's error (nil: the request
  /// completed; its status says how the server answered).
  public func nextFinished() -> (download: FileDownload, error: HTTPError?)? {
    var left: Int32 = 0
    while let message = curl_multi_info_read(multi, &left) {
      guard message.pointee.msg == CURLMSG_DONE,
        let download = members.first(where: { $0.easy.handle == message.pointee.easy_handle })
      else { continue }
      let code = message.pointee.data.result
      remove(download)
      return (download, code == CURLE_OK ? nil : Curl.error(code))
    }
    return nil
  }

  /// Sleeps until a request's socket is ready, `fd` (-1: none) is readable, or the timeout; true
  /// when `fd` woke it.
  public func wait(timeoutMilliseconds: Int32, wakingOn fd: Int32) -> Bool {
    var extra = curl_waitfd(fd: fd, events: Int16(CURL_WAIT_POLLIN), revents: 0)
    _ = curl_multi_poll(multi, &extra, fd < 0 ? 0 : 1, timeoutMilliseconds, nil)
    return extra.revents != 0
  }
}
