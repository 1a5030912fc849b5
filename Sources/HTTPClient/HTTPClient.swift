// A small blocking HTTP(S) client over libcurl (see Curl.swift), shared by comfy-init (health) and comfyctl.
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
  /// A PEM certificate to trust for this request alone (its host name unchecked), nil: the CA bundle.
  public var pinnedCertificate: String? = nil

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
  /// libcurl's error code.
  public var code: Int32
  /// libcurl's reason; `send` adds the URL, a download does not (its URL may carry a signed query).
  public var message: String
  public var description: String { message }
  /// Worth another attempt: the network or the server hiccuped.
  public var isTransient: Bool { Curl.isTransient(CURLcode(rawValue: UInt32(bitPattern: code))) }
}

public enum HTTPClient {
  /// Sends `request` and collects the whole answer in memory (health checks and API calls are small).
  public static func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
    guard let easy = CurlEasy() else {
      throw HTTPError(kind: .other, code: -1, message: "libcurl could not start a transfer")
    }
    easy.configure(
      CurlEasy.Settings(
        url: request.url, headers: request.headers.map { "\($0.name): \($0.value)" },
        followRedirects: request.followRedirects, timeout: request.timeout, connectTimeout: request.connectTimeout,
        pinnedCertificate: request.pinnedCertificate))
    easy.setMethod(request.method, body: request.body)
    var body: [UInt8] = []
    var overflowed = false
    easy.onBody = { bytes in
      // Past the limit libcurl aborts the transfer instead of filling memory.
      guard body.count + bytes.count <= request.maxBodyBytes else {
        overflowed = true
        return false
      }
      body.append(contentsOf: bytes)
      return true
    }
    let code = easy.perform()
    guard code == CURLE_OK else {
      if overflowed {
        throw HTTPError(
          kind: .tooLarge, code: Int32(code.rawValue),
          message: "the answer from \(request.url) is larger than \(request.maxBodyBytes) bytes")
      }
      throw Curl.error(code, url: request.url)
    }
    return HTTPResponse(
      status: easy.responseCode, headers: easy.head.headers, body: body,
      effectiveURL: easy.effectiveURL ?? request.url)
  }

  /// The scheme, host and port (the scheme's default when the URL names none) of `url` as libcurl
  /// parses it, so that what a caller compares is exactly what libcurl connects to; nil when it cannot.
  public static func urlParts(_ url: String) -> (scheme: String, host: String, port: String)? {
    guard let handle = curl_url() else { return nil }
    defer { curl_url_cleanup(handle) }
    guard curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK else { return nil }
    func part(_ which: CURLUPart, _ flags: UInt32) -> String? {
      var pointer: UnsafeMutablePointer<CChar>? = nil
      guard curl_url_get(handle, which, &pointer, flags) == CURLUE_OK, let pointer else { return nil }
      defer { curl_free(pointer) }
      return String(cString: pointer)
    }
    guard let scheme = part(CURLUPART_SCHEME, 0), let host = part(CURLUPART_HOST, 0),
      let port = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT))
    else { return nil }
    return (scheme, host, port)
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
