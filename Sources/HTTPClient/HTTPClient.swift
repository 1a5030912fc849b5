// A small blocking HTTP(S) client over libcurl, shared by comfy-init (health, downloads) and comfyctl.
import CCurl

#if canImport(Glibc)
  import Glibc
#endif

public struct HTTPRequest: Sendable {
  public var method: String
  public var url: String
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]?
  /// Whole-transfer limit in seconds (0: none).
  public var timeout: Double
  public var connectTimeout: Double
  public var followRedirects: Bool
  /// The most body bytes kept: a larger answer fails with `.tooLarge` instead of filling memory.
  public var maxBodyBytes: Int

  public init(
    method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
    timeout: Double = 10, connectTimeout: Double = 5, followRedirects: Bool = false, maxBodyBytes: Int = 16 << 20
  ) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
    self.timeout = timeout
    self.connectTimeout = connectTimeout
    self.followRedirects = followRedirects
    self.maxBodyBytes = maxBodyBytes
  }
}

public struct HTTPResponse: Sendable {
  public var status: Int
  /// Headers of the last response (after redirects), in order, names as sent.
  public var headers: [(name: String, value: String)]
  public var body: [UInt8]
  public var effectiveURL: String

  /// The first header of that name, compared case-insensitively.
  public func header(_ name: String) -> String? {
    let wanted = name.lowercased()
    return headers.first { $0.name.lowercased() == wanted }?.value
  }

  /// Every header of that name (Set-Cookie comes more than once).
  public func headers(named name: String) -> [String] {
    let wanted = name.lowercased()
    return headers.filter { $0.name.lowercased() == wanted }.map(\.value)
  }

  public var text: String { String(decoding: body, as: UTF8.self) }
}

public struct HTTPError: Error, CustomStringConvertible, Sendable {
  public enum Kind: Sendable { case refused, timeout, resolve, tls, aborted, tooLarge, other }
  public var kind: Kind
  public var code: Int32
  public var message: String
  public var description: String { message }
}

public enum HTTPClient {
  private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  /// Sends `request` and collects the whole answer in memory (health checks and API calls are small).
  public static func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
    _ = globalInit
    guard let handle = curl_easy_init() else {
      throw HTTPError(kind: .other, code: -1, message: "libcurl could not start a transfer")
    }
    defer { curl_easy_cleanup(handle) }
    let state = TransferState(limit: request.maxBodyBytes)
    let statePointer = Unmanaged.passUnretained(state).toOpaque()

    var headerList: UnsafeMutablePointer<curl_slist>? = nil
    for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
    // Never send "Expect: 100-continue": a POST then waits a second for nothing.
    headerList = curl_slist_append(headerList, "Expect:")
    defer { curl_slist_free_all(headerList) }

    _ = ccurl_setopt_string(handle, CURLOPT_URL, request.url)
    _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
    _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
    _ = ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 10)
    _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
    _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
    _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "comfy-init")
    if let bundle = caBundle() { _ = ccurl_setopt_string(handle, CURLOPT_CAINFO, bundle) }
    if request.method == "HEAD" {
      _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
    } else if request.method != "GET" {
      _ = ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
    }
    if let body = request.body {
      state.upload = body
      _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
      _ = ccurl_setopt_offset(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
      _ = state.upload.withUnsafeBytes { bytes in
        ccurl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
      }
    }
    _ = ccurl_setopt_write(handle) { data, size, count, user in
      let state = Unmanaged<TransferState>.fromOpaque(user!).takeUnretainedValue()
      return state.write(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, statePointer)
    _ = ccurl_setopt_header(handle) { data, size, count, user in
      let state = Unmanaged<TransferState>.fromOpaque(user!).takeUnretainedValue()
      state.header(UnsafeRawBufferPointer(start: data, count: size * count))
      return size * count
    }
    _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, statePointer)

    let code = curl_easy_perform(handle)
    var status = 0
    _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    var urlPointer: UnsafeMutablePointer<CChar>? = nil
    _ = ccurl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &urlPointer)
    let effective = urlPointer.map { String(cString: $0) } ?? request.url
    guard code == CURLE_OK else {
      if state.overflowed {
        throw HTTPError(
          kind: .tooLarge, code: Int32(code.rawValue),
          message: "the answer from \(request.url) is larger than \(request.maxBodyBytes) bytes")
      }
      throw HTTPError(kind: kind(of: code), code: Int32(code.rawValue), message: describe(code, url: request.url))
    }
    return HTTPResponse(status: status, headers: state.headers, body: state.body, effectiveURL: effective)
  }

  /// libcurl has no CA bundle of its own in a static build: honour the usual variables, then the distro's.
  public static func caBundle() -> String? {
    for name in ["CURL_CA_BUNDLE", "SSL_CERT_FILE"] {
      if let value = getenv(name), value.pointee != 0 { return String(cString: value) }
    }
    for path in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"] {
      if access(path, R_OK) == 0 { return path }
    }
    return nil
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

  private static func describe(_ code: CURLcode, url: String) -> String {
    "\(String(cString: curl_easy_strerror(code))) (\(url))"
  }
}

/// What the C callbacks reach through their user pointer: the last response's headers and its body.
private final class TransferState {
  var upload: [UInt8] = []
  var headers: [(name: String, value: String)] = []
  var body: [UInt8] = []
  let limit: Int
  private(set) var overflowed = false

  init(limit: Int) { self.limit = limit }

  func header(_ raw: UnsafeRawBufferPointer) {
    var line = String(decoding: raw, as: UTF8.self)
    // By scalars: "\r\n" is one Character, so hasSuffix("\n") is false for every header line.
    while let last = line.unicodeScalars.last, last == "\n" || last == "\r" { line.unicodeScalars.removeLast() }
    if line.hasPrefix("HTTP/") {
      // A new response starts (redirects, 100 Continue): only the last one's headers count.
      headers = []
    } else if let colon = line.firstIndex(of: ":") {
      let name = String(line[..<colon])
      let value = String(line[line.index(after: colon)...]).trimmingSpaces()
      headers.append((name, value))
    }
  }

  /// False (libcurl then aborts the transfer) once the body would pass the limit.
  func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard body.count + bytes.count <= limit else {
      overflowed = true
      return false
    }
    body.append(contentsOf: bytes)
    return true
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

/// Percent-encodes for a query value or form field (RFC 3986 unreserved characters stay).
public func percentEncode(_ string: String) -> String {
  var out = ""
  for byte in string.utf8 {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
      UInt8(ascii: "~"):
      out.append(Character(UnicodeScalar(byte)))
    default:
      let digits = Array("0123456789ABCDEF")
      out.append("%")
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0xf)])
    }
  }
  return out
}
