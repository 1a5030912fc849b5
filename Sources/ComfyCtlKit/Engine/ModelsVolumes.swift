// The models volumes: by default one, PROJECT_models, that every instance mounts (compose/docker-compose.yml),
// so a file two families use is downloaded and stored once. It is external to Compose and Swarm: comfyctl
// creates it before a deploy and nothing but `down --deep --models` removes it (`docker compose down
// --volumes` and `docker stack rm` cannot), because losing 60 GB of downloads by accident is not acceptable.
// COMFYUI_<NAME>_MODELS_VOLUME gives one instance a volume of its own. This type is the one owner of
// those names on comfyctl's side; the compose file spells the same defaults for Compose itself.
import Foundation

struct ModelsVolumes {
  /// On the volumes comfyctl creates, so people (and `down --models`) can tell them from others.
  static let label = "comfy-init.models-volume"
  /// Above this many bytes an old per-family volume holds models (a fresh one holds only the empty
  /// folders and placeholder files that the image's models/ seeds it with).
  static let holdsModelsBytes = 1 << 20

  let settings: Settings
  /// The Compose project's or the swarm stack's name (the same name on either engine).
  let projectName: String

  /// COMFYUI_MODELS_VOLUME, else PROJECT_models: what the compose file's
  /// `${COMFYUI_MODELS_VOLUME:-${COMPOSE_PROJECT_NAME}_models}` gives.
  var shared: String { settings.value(Instance.all[0].modelsVolumeVariable) ?? projectName + "_models" }

  func name(of instance: Instance) -> String { settings.value(instance.modelsVolumeVariable) ?? shared }

  /// The distinct volumes `instances` mount, in their order.
  func names(of instances: [Instance]) -> [String] {
    var seen = Set<String>()
    return instances.map(name(of:)).filter { seen.insert($0).inserted }
  }

  /// The volume Compose made for a family's instance before the models were shared (PROJECT_models-FAMILY);
  /// nil for the main instance, whose old volume PROJECT_models is the shared one now.
  func legacyName(of instance: Instance) -> String? {
    instance.profile.map { projectName + "_models-" + $0 }
  }

  /// Creates each volume `instances` mount that does not exist yet (an existing one, PROJECT_models from
  /// before included, is used as it is).
  func create(for instances: [Instance], console: Console) throws(CtlError) {
    for volume in names(of: instances) where !Docker.volumeExists(volume) {
      let result = try ProcessRunner.capture([
        "docker", "volume", "create", "--label", "\(ModelsVolumes.label)=\(projectName)", volume,
      ])
      guard result.succeeded else {
        throw CtlError(.composeFailed, "docker volume create \(volume) failed: \(result.lastLine)")
      }
      console.say("models: created the volume \(volume), shared by the instances (`down --deep` keeps it)")
    }
  }

  /// One line for each old per-family volume that holds models and is no longer mounted: how to move
  /// its files into the volume the instance mounts now, or keep using it. comfyctl does not copy them
  /// itself (docs/deploy.md says why).
  func describeLegacy(for instances: [Instance], image: String) -> [String] {
    instances.compactMap { instance -> String? in
      guard let old = legacyName(of: instance), old != name(of: instance), Docker.volumeExists(old),
        let bytes = Docker.volumeBytes(old, image: image), bytes > ModelsVolumes.holdsModelsBytes
      else { return nil }
      let now = name(of: instance)
      return
        "models: the old volume \(old) (\(bytes / 1_000_000) MB) is no longer mounted; \(instance.service) uses \(now). "
        + "Move its files: docker run --rm --user 0:0 --entrypoint cp -v \(old):/from:ro -v \(now):/to \(image) -an "
        + "/from/. /to/ && docker volume rm \(old); or keep it: \(instance.modelsVolumeVariable)=\(old) in .env"
    }
  }

  /// `down --deep --models`: every models volume of the project, the old per-family ones included.
  func remove(console: Console) throws(CtlError) {
    let volumes = (names(of: Instance.all) + Instance.all.compactMap(legacyName(of:))).filter(Docker.volumeExists)
    guard !volumes.isEmpty else {
      console.say("models: no models volume to remove")
      return
    }
    let result = try ProcessRunner.capture(["docker", "volume", "rm"] + volumes)
    guard result.succeeded else {
      throw CtlError(.composeFailed, "docker volume rm failed: \(result.lastLine) (is a container still using it?)")
    }
    console.say("models: removed \(volumes.joined(separator: ", ")) (--models): the next `up` downloads them again")
  }
}
