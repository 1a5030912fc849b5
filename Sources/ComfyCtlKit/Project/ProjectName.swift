// The Compose project name: the prefix of every container, network and volume of a deployment. Two
// deployment folders with one name share their volumes, and a stale custom_nodes volume from one can
// shadow the other's login node. So the name is per folder: COMPOSE_PROJECT_NAME when set (Compose
// itself lets it win), else COMFYUI_PROJECT_NAME, else derived from the folder's name; `comfyctl up`
// records a derived name in .env, so that moving the folder keeps its volumes.
import Foundation

public enum ProjectName {
  public static let variable = "COMFYUI_PROJECT_NAME"
  /// The one name every deployment shared before (`name: comfyui` in the compose file).
  public static let legacy = "comfyui"

  /// The name and whether it was set (false: derived from the folder, not yet recorded).
  public static func resolve(settings: Settings, project: Project) throws(CtlError) -> (name: String, isSet: Bool) {
    for key in ["COMPOSE_PROJECT_NAME", variable] {
      guard let name = settings.value(key) else { continue }
      guard isValid(name) else {
        let suggestion = derive(fromFolder: name).isEmpty ? "" : " (e.g. \(derive(fromFolder: name)))"
        throw CtlError(
          .badInput,
          "\(key)='\(name)' is not a Compose project name; use lowercase letters, digits, - and _, "
            + "starting with a letter or digit\(suggestion)")
      }
      return (name, true)
    }
    let name = derive(fromFolder: (project.root as NSString).lastPathComponent)
    guard !name.isEmpty else {
      throw CtlError(
        .badInput, "cannot make a Compose project name from the folder \(project.root); set \(variable) in .env")
    }
    return (name, false)
  }

  /// Compose's own rule for a folder's name (compose-go's NormalizeProjectName): lowercase, only
  /// a-z 0-9 _ -, no leading _ or -. Empty when nothing is left.
  public static func derive(fromFolder folder: String) -> String {
    let kept = folder.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    return String(kept.drop { $0 == "_" || $0 == "-" })
  }

  /// What `docker compose -p` accepts.
  public static func isValid(_ name: String) -> Bool {
    !name.isEmpty && derive(fromFolder: name) == name
  }

  /// Writes a derived name into .env (kept byte for byte otherwise), before anything is created under it.
  public static func record(_ name: String, in project: Project) throws(CtlError) {
    var env = try EnvFile.load(project.envFile)
    env.appendText([
      "", "# The Compose project name: it prefixes this deployment's volumes (recorded by comfyctl up).",
    ])
    env.set(variable, name)
    try env.save(project.envFile)
  }
}
