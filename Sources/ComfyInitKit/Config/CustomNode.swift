// One entry of COMFYUI_CUSTOM_NODES: a repository, perhaps a ref, and the folder it gets.

public struct CustomNode: Equatable, Sendable {
  public var url: String
  public var ref: String?
  /// The folder name under custom_nodes/: the repository's last path component, without ".git".
  public var name: String

  /// Parses "URL[@REF]". An "@" inside the URL's authority (user@host) is not a ref separator.
  public static func parse(_ spec: String) -> CustomNode? {
    var url = spec
    var ref: String? = nil
    if let at = spec.lastIndex(of: "@") {
      let tail = spec[spec.index(after: at)...]
      if !tail.contains("/") && !tail.contains(":") && !tail.isEmpty {
        url = String(spec[..<at])
        ref = String(tail)
      }
    }
    var trimmed = Substring(url)
    while trimmed.hasSuffix("/") { trimmed.removeLast() }
    let last = trimmed.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? ""
    let name = last.hasSuffix(".git") ? String(last.dropLast(4)) : last
    guard !url.isEmpty, !name.isEmpty, name != ".", name != "..", !name.hasPrefix(".") else { return nil }
    return CustomNode(url: String(trimmed), ref: ref, name: name)
  }
}
