// Where a manifest line's DEST lands: always inside ComfyUI/models, even when a folder on the way
// is a symbolic link (a link to a shared store inside models/ is fine, one to /etc is not).
#if canImport(Glibc)
  import Glibc
#endif

struct ModelPaths {
  /// The models folder with every link resolved.
  let root: String

  init(modelsDir: String) throws(InitError) {
    do { try FileSystem.makeDirectories(modelsDir) } catch {
      throw InitError(.models, "cannot create \(modelsDir) (\(error)); make COMFYUI_HOME writable")
    }
    guard let real = ModelPaths.resolve(modelsDir) else {
      throw InitError(.models, "cannot resolve \(modelsDir): \(String(cString: strerror(errno)))")
    }
    root = real
  }

  /// Where `entry` is, read without making or resolving anything (a start that downloads nothing
  /// only looks).
  static func unresolvedPath(of entry: ModelEntry, in modelsDir: String) -> String { modelsDir + "/" + entry.dest }

  static func resolve(_ path: String) -> String? {
    guard let pointer = realpath(path, nil) else { return nil }
    defer { free(pointer) }
    return String(cString: pointer)
  }

  func contains(_ path: String) -> Bool { path == root || path.hasPrefix(root == "/" ? "/" : root + "/") }

  /// Makes the folders of `entry.dest` and returns the file's absolute path; throws when a link
  /// would carry it outside the models folder, or when the name is taken by a folder or a link.
  func prepare(_ entry: ModelEntry, source: String) throws(InitError) -> String {
    let parts = entry.dest.split(separator: "/")
    var folder = root
    for part in parts.dropLast() {
      folder += "/" + part
      if mkdir(folder, 0o755) != 0 && errno != EEXIST {
        throw InitError(
          .models, "cannot create \(folder): \(String(cString: strerror(errno))); make ComfyUI/models writable")
      }
      guard let real = ModelPaths.resolve(folder), contains(real), FileSystem.isDirectory(real) else {
        throw InitError(
          .models,
          "\(source):\(entry.line): \(folder) leads outside ComfyUI/models (a link or not a folder); fix the link or DEST"
        )
      }
    }
    let path = ModelPaths.unresolvedPath(of: entry, in: root)
    var st = stat()
    if lstat(path, &st) == 0 {
      let kind = st.st_mode & S_IFMT
      guard kind == S_IFREG else {
        let what = kind == S_IFLNK ? "a symbolic link" : "not a regular file"
        throw InitError(.models, "\(source):\(entry.line): \(path) is \(what); move it away or change DEST")
      }
    }
    return path
  }
}
