// A full or read-only disk, said as such: git, pip and a write fail with their own words, which hide
// the cause; one line names the mount and what to do.
#if canImport(Glibc)
  import Glibc
#endif

extension Bootstrap {
  /// EROFS and ENOSPC say what to do better than "not writable": which one, on which device.
  static func storageError(_ config: Config, errno code: Int32) -> InitError? {
    code == EROFS || code == ENOSPC ? storageProblem(config, errno: code) : nil
  }

  /// The failures a full or read-only disk can cause (a tool's message then hides the cause).
  static let mayBeStorage: Set<ExitCode> = [.filesystem, .git, .python, .install, .customNode]

  /// Below this, a failed git, pip or write is put down to the disk.
  static let lowSpace: UInt64 = 64 << 20

  /// A read-only or full filesystem under COMFYUI_HOME (or COMFYUI_VENV), as one message saying
  /// so; nil when neither holds. `errno` or `message` (a failure's text) may name the cause.
  static func storageProblem(_ config: Config, errno code: Int32 = 0, message: String = "") -> InitError? {
    // The state folder first: it is written first, and on a read-only root it is the mount to name.
    // It is small by nature (a tmpfs of a few MB), so only an empty one counts as full.
    let layout = config.layout
    var places = [(name: "COMFYUI_HOME", path: config.home, lowSpace: lowSpace)]
    if layout.hasSeparateStateDir {
      places.insert((name: "COMFYUI_STATE_DIR", path: layout.stateDir, lowSpace: 1), at: 0)
    }
    if !config.venv.hasPrefix(config.home + "/") {
      places.append((name: "COMFYUI_VENV", path: config.venv, lowSpace: lowSpace))
    }
    // A tool's message that blames the disk is put down to the home or the venv, not the state folder.
    var found: [(name: String, path: String, readOnly: Bool, free: UInt64, full: Bool, isData: Bool)] = []
    for place in places {
      // The nearest folder that exists: the home or the venv may not be made yet.
      var existing = place.path
      while !FileSystem.exists(existing) && existing != "/" { existing = FileSystem.parent(of: existing) }
      var st = statvfs()
      guard statvfs(existing, &st) == 0 else { continue }
      let free = UInt64(st.f_bavail) * UInt64(st.f_frsize)
      let noInodes = st.f_files > 0 && st.f_favail == 0
      found.append(
        (
          place.name, place.path, (st.f_flag & UInt(ST_RDONLY)) != 0, free, free < place.lowSpace || noInodes,
          place.name != "COMFYUI_STATE_DIR"
        ))
    }
    let saysReadOnly = code == EROFS || message.rangeOfSubstring(String(cString: strerror(EROFS))) != nil
    let saysFull = code == ENOSPC || message.rangeOfSubstring(String(cString: strerror(ENOSPC))) != nil
    if let place = found.first(where: \.readOnly) ?? (saysReadOnly ? found.first(where: \.isData) : nil) {
      let kind = place.name == "COMFYUI_STATE_DIR" ? " (a tmpfs or an emptyDir)" : ""
      return InitError(
        .filesystem, "\(place.name)=\(place.path) is on a read-only filesystem; mount a writable volume there\(kind)")
    }
    if let place = found.first(where: \.full) ?? (saysFull ? found.first(where: \.isData) : nil) {
      return InitError(
        .filesystem,
        "no space left on the device holding \(place.name)=\(place.path) (\(place.free) bytes free); free some space or grow the volume"
      )
    }
    return nil
  }
}
