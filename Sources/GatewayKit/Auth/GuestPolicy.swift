// COMFYUI_GUEST_MODE=1: guests (no credential) get an explicit allow-list, never what ComfyUI-Login's
// guest session allows (every GET, /internal/logs with the token in it, user data). Matched on the
// decoded path with ComfyUI's "/api" prefix removed; a path with an encoded slash, a backslash or a
// dot segment is never a guest's.
enum GuestPolicy {
  /// Read-only pages and API routes the web UI needs to show and run a workflow.
  /// (The web UI also loads user.css, its user list and settings at start: found by trying the real UI's
  /// routes, not yet in a browser. /system_stats stays out: `health` proves the gate refuses it.)
  static let exactGets: Set<String> = [
    "/", "/index.html", "/favicon.ico", "/object_info", "/prompt", "/queue", "/history", "/view", "/ws",
    "/extensions", "/embeddings", "/user.css", "/users", "/settings", "/i18n",
    "/workflow_templates",
  ]
  static let getPrefixes = [
    "/object_info/", "/history/", "/assets/", "/extensions/", "/templates/", "/fonts/", "/settings/",
  ]
  static let posts: Set<String> = ["/prompt", "/upload/image"]

  static func allows(method: String, target: RequestTarget) -> Bool {
    guard var path = target.plainPath else { return false }
    if path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) || path.contains("//") {
      return false
    }
    if path.hasPrefix("/api/") { path.removeFirst(4) }
    switch method {
    case "GET", "HEAD":
      return exactGets.contains(path) || getPrefixes.contains(where: { path.hasPrefix($0) })
    case "POST":
      return posts.contains(path)
    default:
      return false
    }
  }
}
