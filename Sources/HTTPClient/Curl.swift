// The one place that talks to libcurl: its global init, an easy handle with comfy-init's settings
// (timeouts, CA bundle, user agent, headers), the header parsing, and what a libcurl error means.
// `HTTPClient.send` and `FileDownload` (the model downloads) are both built on it.
import CCurl
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

enum Curl {
  /// libcurl's global state, set up once for the whole process, before the first handle.
  static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  /// libcurl has no CA bundle of its own in a static build: the one the program's configuration named
  /// (CABundle), else the distro's.
  static func caBundle() -> String? {
    if let configured = CABundle.configured { return configured }
    for path in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"] {
      if access(path, R_OK) == 0 { return path }
    }
    return nil
  }

  /// `code` as an HTTPError; `url` (if given) ends the message.
  static func error(_ code: CURLcode, url: String? = nil) -> HTTPError {
    let reason = String(cString: curl_easy_strerror(code))
    let message = url.map { "\(reason) (\($0))" } ?? reason
    return HTTPError(kind: kind(of: code), code: Int32(code.rawValue), message: message)
  }

  private static func kind(of code: CURLcode) -> HTTPError.Kind {
    switch code {
    case CURLE_COULDNT_CONNECT: return .refused
    case CURLE_OPERATION_TIMEDOUT: return .timeout
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .resolve
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: return .tls
    case CURLE_WRITE_ERROR, CURLE_ABORTED_BY_CALLBACK: return .aborted
    default: return .other
    }
  }

  /// Errors worth another attempt: the network or the server hiccuped.
  static func isTransient(_ code: CURLcode) -> Bool {
    switch code {
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_PARTIAL_FILE,
      CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2,
      CURLE_HTTP2_STREAM, CURLE_WEIRD_SERVER_REPLY:
      return true
    default:
      return false
    }
  }
}

/// The response being received, fed one header line at a time (redirects and 100 Continue start a
/// new one: only the last response's headers are kept).
struct ResponseHead {
  /// From the status line.
  var status = 0
  /// In order, names as sent, values without surrounding blanks.
  var headers: [(name: String, value: String)] = []

  /// Takes one line as libcurl hands it over (CRLF included). True when it is the blank line that
  /// ends a final (not 1xx) response's headers.
  mutating func feed(_ raw: UnsafeRawBufferPointer) -> Bool {
    // Trimmed as bytes: in a Swift String "\r\n" is one Character, which hasSuffix("\n") misses.
    var bytes = raw[...]
    while let last = bytes.last, last == 10 || last == 13 { bytes = bytes.dropLast() }
    let line = String(decoding: bytes, as: UTF8.self)
    if line.hasPrefix("HTTP/") {
      let parts = line.split(separator: " ")
      status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
      headers = []
    } else if let colon = line.firstIndex(of: ":") {
      headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces()))
    } else if line.isEmpty, status >= 200 {
      return true
    }
    return false
  }

  /// The last header of that name (case-insensitive).
  func last(_ name: String) -> String? {
    let wanted = name.lowercased()
    return headers.last { $0.name.lowercased() == wanted }?.value
  }
}

/// One libcurl easy handle. Each request is `configure`d afresh (the handle, and with it the
/// connection cache, is kept); the response's headers land in `head`, its body in `onBody`.
final class CurlEasy {
  struct Settings {
    var url: String
    var headers: [String] = []
    var followRedirects = false
    /// Whole-transfer limit in seconds (0: none).
    var timeout: Double = 0
    var connectTimeout: Double
    /// A transfer slower than `bytesPerSecond` for `seconds` fails (a stalled connection).
    var lowSpeed: (bytesPerSecond: Int, seconds: Int)? = nil
    var bufferSize: Int? = nil
    var keepAlive = false
    /// "START-": ask for the bytes from START on.
    var range: String? = nil
    /// A server's own certificate (the gate's, under COMFYUI_TLS_CERT) trusted instead of the CA bundle,
    /// whatever host name it carries: the health check reaches the gate on loopback.
    var pinnedCertificate: String? = nil
  }

  let handle: UnsafeMutableRawPointer
  private var headerList: UnsafeMutablePointer<curl_slist>? = nil
  /// The response being received.
  var head = ResponseHead()
  /// The final response's headers are complete; false stops the transfer.
  var onHeaders: () -> Bool = { true }
  /// Body bytes; false stops the transfer (libcurl then reports a write error).
  var onBody: (UnsafeRawBufferPointer) -> Bool = { _ in true }

  init?() {
    _ = Curl.globalInit
    guard let handle = curl_easy_init() else { return nil }
    self.handle = handle
  }

  deinit {
    curl_easy_cleanup(handle)
    curl_slist_free_all(headerList)
  }

  /// Resets the handle and sets it up for one request.
  func configure(_ settings: Settings) {
    curl_easy_reset(handle)
    head = ResponseHead()
    curl_slist_free_all(headerList)
    headerList = nil
    for header in settings.headers { headerList = curl_slist_append(headerList, header) }
    // Never send "Expect: 100-continue": a POST then waits a second for nothing.
    headerList = curl_slist_append(headerList, "Expect:")
    _ = ccurl_setopt_string(handle, CURLOPT_URL, settings.url)
    _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
    _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, settings.followRedirects ? 1 : 0)
    _ = ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
    _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(settings.timeout * 1000))
    _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000))
    if let lowSpeed = settings.lowSpeed {
      _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, lowSpeed.bytesPerSecond)
      _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, lowSpeed.seconds)
    }
    if let size = settings.bufferSize { _ = ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, size) }
    if settings.keepAlive { _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1) }
    _ = ccurl_setopt_long(handle, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
    _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "comfy-init")
    if let pinned = settings.pinnedCertificate {
      _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, pinned)
      _ = ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
    } else if let bundle = Curl.caBundle() {
      _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, bundle)
    }
    if let range = settings.range { _ = ccurl_setopt_string(handle, CURLOPT_RANGE, range) }
    let me = Unmanaged.passUnretained(self).toOpaque()
    _ = ccurl_setopt_write(handle) { data, size, count, user in
      let easy = Unmanaged<CurlEasy>.fromOpaque(user!).takeUnretainedValue()
      return easy.onBody(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, me)
    _ = ccurl_setopt_header(handle) { data, size, count, user in
      let easy = Unmanaged<CurlEasy>.fromOpaque(user!).takeUnretainedValue()
      let ended = easy.head.feed(UnsafeRawBufferPointer(start: data, count: size * count))
      return !ended || easy.onHeaders() ? size * count : 0
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, me)
  }

  /// The method and body (after `configure`): GET needs neither.
  func setMethod(_ method: String, body: [UInt8]?) {
    if method == "HEAD" {
      _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
    } else if method != "GET" {
      _ = ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
    }
    if let body {
      _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
      _ = ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
      _ = body.withUnsafeBytes { bytes in
        ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
      }
    }
  }

  /// Runs the request to its end (the blocking interface).
  func perform() -> CURLcode { curl_easy_perform(handle) }

  /// The last response's status code (0 when none came).
  var responseCode: Int {
    var status = 0
    _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    return status
  }

  var effectiveURL: String? { string(CURLINFO_EFFECTIVE_URL) }

  /// Where a 3xx points (libcurl resolves a relative Location against the request's URL).
  var redirectURL: String? { string(CURLINFO_REDIRECT_URL) }

  private func string(_ info: CURLINFO) -> String? {
    var pointer: UnsafeMutablePointer<CChar>? = nil
    _ = ccurl_getinfo_string(handle, info, &pointer)
    return pointer.map { String(cString: $0) }
  }
}

extension String {
  func trimmingSpaces() -> String {
    var s = Substring(self)
    while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
    while let last = s.last, last == " " || last == "\t" { s.removeLast() }
    return String(s)
  }
}

/// The CA bundle a program's configuration owner read from its environment (comfy-init's Config,
/// comfyctl's HostEnvironment: CURL_CA_BUNDLE, then SSL_CERT_FILE), set once at start; HTTPClient reads
/// no environment itself.
public enum CABundle {
  private static let path = Mutex<String?>(nil)

  public static func use(_ file: String?) { path.withLock { $0 = file } }

  static var configured: String? { path.withLock { $0 } }
}
