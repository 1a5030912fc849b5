// Where a manifest line's file comes from: a plain URL, a file in a Hugging Face repository
// (`hf://OWNER/REPO[@REVISION]/PATH`, the form huggingface_hub's paths use), or a CivitAI model
// version (`civitai://ID`). The source says which requests find the file; SourceResolver makes them.
import HTTPClient

public enum ModelSource: Equatable, Sendable {
  case url(String)
  case hub(HubFile)
  case civitai(versionID: String)

  /// A file in a Hugging Face repository at a revision (a branch, a tag or a commit).
  public struct HubFile: Equatable, Sendable {
    /// "models", "datasets" or "spaces": where the repository lives on the Hub.
    public var kind: String
    /// "OWNER/REPO".
    public var repo: String
    public var revision: String
    public var path: String

    /// The repository's page, for messages ("accept its licence at ...").
    func page(endpoint: String) -> String { endpoint + (kind == "models" ? "" : "/" + kind) + "/" + repo }

    /// `{endpoint}/[datasets/]{repo}/resolve/{revision}/{path}`: what huggingface_hub's hf_hub_url builds.
    func resolveURL(endpoint: String, revision: String? = nil) -> String {
      let rev = percentEncode(revision ?? self.revision)
      let encodedPath = path.split(separator: "/").map { percentEncode(String($0)) }.joined(separator: "/")
      return page(endpoint: endpoint) + "/resolve/" + rev + "/" + encodedPath
    }

    /// "OWNER/REPO@REV" (datasets and spaces keep their prefix): the key a resolved revision is locked under.
    var revisionKey: String { (kind == "models" ? "" : kind + "/") + repo + "@" + revision }

    /// The repository's short name, for messages ("FLUX.1-dev is gated").
    var name: String { String(repo.split(separator: "/").last ?? Substring(repo)) }
  }

  /// Parses a manifest's SOURCE field; nil with `why` set when it is none of the three forms.
  static func parse(_ text: String) -> (source: ModelSource?, why: String) {
    if text.hasPrefix("hf://") { return parseHub(String(text.dropFirst(5))) }
    if text.hasPrefix("civitai://") {
      let id = String(text.dropFirst(10))
      guard !id.isEmpty, id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
        return (nil, "'\(text)' is not civitai://MODEL_VERSION_ID (the number in the model page's ?modelVersionId=)")
      }
      return (.civitai(versionID: id), "")
    }
    guard text.hasPrefix("https://") || text.hasPrefix("http://"), URLParts(text) != nil else {
      return (nil, "'\(redactURL(text))' is not an https URL, hf://OWNER/REPO[@REVISION]/PATH or civitai://ID")
    }
    return (.url(text), "")
  }

  private static func parseHub(_ rest: String) -> (source: ModelSource?, why: String) {
    let usage = "'hf://\(rest)' is not hf://OWNER/REPO[@REVISION]/PATH"
    var parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    var kind = "models"
    if let first = parts.first, first == "datasets" || first == "spaces" {
      kind = first
      parts.removeFirst()
    }
    guard parts.count >= 3, !parts[0].isEmpty, !parts[1].isEmpty else { return (nil, usage) }
    var repoName = parts[1]
    var revision = "main"
    if let at = repoName.firstIndex(of: "@") {
      revision = String(repoName[repoName.index(after: at)...])
      repoName = String(repoName[..<at])
      guard !revision.isEmpty, !repoName.isEmpty else { return (nil, usage) }
    }
    let path = parts[2...].joined(separator: "/")
    guard !path.isEmpty, !parts[2...].contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
      return (nil, usage + " (the PATH inside the repository is missing or has empty, '.' or '..' parts)")
    }
    return (.hub(HubFile(kind: kind, repo: parts[0] + "/" + repoName, revision: revision, path: path)), "")
  }

  /// The source as a manifest writes it; `commit` pins a Hub file's revision.
  func text(commit: String? = nil) -> String {
    switch self {
    case .url(let url): return url
    case .civitai(let id): return "civitai://" + id
    case .hub(let file):
      let prefix = file.kind == "models" ? "" : file.kind + "/"
      return "hf://" + prefix + file.repo + "@" + (commit ?? file.revision) + "/" + file.path
    }
  }

  /// The source as the log may show it (a plain URL without its query or credentials).
  var loggable: String {
    if case .url(let url) = self { return URLParts.loggable(url) }
    return text()
  }
}
