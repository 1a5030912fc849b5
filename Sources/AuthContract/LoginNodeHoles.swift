// What the real ComfyUI-Login (69109257) lets through without credentials or answers with 500: its check
// skips every path ending in .js, .css, .css.map or .ico, whatever the method, and ComfyUI serves, moves
// and deletes user data under such names (also under /api); its log buffer (/internal/logs) holds the
// token; a one- or three-word Bearer header makes its split() raise. The gate must refuse each with 401.
// One list, asked by `comfy-init health` (GateProbe) and `comfyctl validate`/`up` (AuthProbe).

public enum LoginNodeHoles {
  public struct Request: Sendable {
    public var method: String
    public var path: String
    /// An Authorization header value to send, nil for none.
    public var authorization: String?

    public init(method: String, path: String, authorization: String? = nil) {
      self.method = method
      self.path = path
      self.authorization = authorization
    }
  }

  /// The requests, with harmless file names built on `stem` ("comfy-init-health"): a hole would write
  /// or move nothing of a user's.
  public static func requests(stem: String) -> [Request] {
    [
      Request(method: "GET", path: "/userdata/\(stem).js"),
      Request(method: "POST", path: "/userdata/\(stem).js"),
      Request(method: "DELETE", path: "/userdata/\(stem).js"),
      Request(method: "POST", path: "/api/userdata/\(stem)%2Ejson/move/\(stem).js"),
      Request(method: "GET", path: "/api/userdata/\(stem).js"),
      Request(method: "GET", path: "/internal/logs"),
      Request(method: "GET", path: "/system_stats", authorization: "Bearer"),
      Request(method: "GET", path: "/system_stats", authorization: "Bearer a b"),
    ]
  }
}
