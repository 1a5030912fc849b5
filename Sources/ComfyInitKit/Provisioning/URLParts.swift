// The parts of a URL that decide where a token may go, parsed by libcurl itself so that what we
// compare is exactly what it connects to.
import CCurl

#if canImport(Glibc)
  import Glibc
#endif

struct URLParts: Equatable {
  var scheme: String
  var host: String
  var port: String

  init?(_ url: String) {
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
    self.scheme = scheme.lowercased()
    self.host = host.lowercased()
    self.port = port
  }

  /// The URL without its query: signed CDN redirects and `?token=` URLs must not reach the log.
  static func loggable(_ url: String) -> String {
    let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? url.endIndex
    return redactURL(String(url[..<cut]))
  }
}
