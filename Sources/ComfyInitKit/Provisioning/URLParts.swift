// The parts of a URL that decide where a token may go, parsed by libcurl itself (through HTTPClient)
// so that what we compare is exactly what it connects to.
import HTTPClient

struct URLParts: Equatable {
  var scheme: String
  var host: String
  var port: String

  init?(_ url: String) {
    guard let parts = HTTPClient.urlParts(url) else { return nil }
    self.scheme = parts.scheme.lowercased()
    self.host = parts.host.lowercased()
    self.port = parts.port
  }

  /// The URL without its query: signed CDN redirects and `?token=` URLs must not reach the log.
  static func loggable(_ url: String) -> String {
    let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? url.endIndex
    return redactURL(String(url[..<cut]))
  }
}
