// Log lines on their way to the terminal lose their secrets. ComfyUI-Login itself logs the token
// at every start ("For direct API calls, use token=..."), and old lines still carry tokens that
// were rotated away: every bcrypt hash is masked, not only the current one.
import Foundation

public enum LogRedactor {
  static let bcrypt = try! NSRegularExpression(pattern: #"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}"#)

  public static func redact(_ line: String, password: String?) -> String {
    var text = line
    if let password, !password.isEmpty { text = text.replacingOccurrences(of: password, with: "[redacted]") }
    let range = NSRange(text.startIndex..., in: text)
    return bcrypt.stringByReplacingMatches(in: text, range: range, withTemplate: "[redacted]")
  }
}
