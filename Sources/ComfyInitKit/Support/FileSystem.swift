// Thin POSIX file helpers: what Foundation's FileManager would do, without Foundation.
import CInit

#if canImport(Glibc)
  import Glibc
#endif

public struct SystemError: Error, CustomStringConvertible, Sendable {
  public var operation: String
  public var path: String
  public var errnoValue: Int32

  public init(_ operation: String, _ path: String, errno value: Int32 = errno) {
    self.operation = operation
    self.path = path
    self.errnoValue = value
  }

  public var description: String { "\(operation) \(path): \(String(cString: strerror(errnoValue)))" }
}

public enum FileSystem {
  public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

  public static func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
  }

  public static func isExecutable(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
  }

  /// Reads a whole file; nil when it does not exist or cannot be read. `noFollow`: only a regular
  /// file, never through a link at `path` itself (errno ELOOP otherwise), never blocking on a FIFO.
  public static func read(_ path: String, noFollow: Bool = false) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW | O_NONBLOCK : 0))
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    if noFollow && !isRegular(fd) {
      errno = ELOOP
      return nil
    }
    var result = [UInt8]()
    // A chunk the size of the file (and one byte to see its end), up to 64 KiB: most files read
    // here are a few bytes, and zeroing 64 KiB for each showed in a warm start's profile.
    var st = stat()
    let size = fstat(fd, &st) == 0 && st.st_size >= 0 ? Int(st.st_size) : 65535
    var chunk = [UInt8](repeating: 0, count: min(size, 65535) + 1)
    while true {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      result.append(contentsOf: chunk[0..<n])
    }
    return result
  }

  public static func readText(_ path: String) -> String? { read(path).map { String(decoding: $0, as: UTF8.self) } }

  /// Reads a small state file (a stamp, a marker, the status): nil unless it is a regular file
  /// (through a link is fine) of at most `limit` bytes. It never blocks on a FIFO and never reads a
  /// huge file planted there: a state file that cannot be read is one that does not match.
  public static func readState(_ path: String, limit: Int = 64 << 10) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= limit else { return nil }
    // Sized by fstat (one byte more, to see the end), grown should the file grow meanwhile: a
    // warm start reads a dozen state files, and zeroing 64 KiB for each was a tenth of its work.
    var bytes = [UInt8](repeating: 0, count: min(Int(st.st_size), limit) + 1)
    var count = 0
    while count <= limit {
      if count == bytes.count { bytes += [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - bytes.count)) }
      let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
      if n < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if n == 0 { break }
      count += n
    }
    return count <= limit ? String(decoding: bytes[..<count], as: UTF8.self) : nil
  }

  /// Writes `bytes` so that readers see the old file or the new one, never a torn one, even after a
  /// power cut: a temporary file in the same folder, fsync, rename over, fsync the folder.
  /// `durable: false` skips the fsyncs, for files that only describe the present (the status file):
  /// readers still never see a torn file, but a warm start does not wait for the disk. Such a file
  /// also replaces the old one by exchanging the two names, then removes the old one: a plain rename
  /// over an existing file makes ext4 (auto_da_alloc, the default) start writing the new file's data
  /// out inside rename(), 0.3 ms idle and 3 to 8 ms on a busy disk, per write. After a power cut a
  /// non-durable file may be empty or stale; its readers treat that as no file.
  public static func writeAtomically(
    _ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true,
    temporaryName: (String) -> String = FileSystem.randomTemporaryName(for:)
  ) throws(SystemError) {
    // A new file under a random name, never through a link: a name planted in a folder someone
    // else can write to (a link to any file) is skipped, not followed, truncated or re-moded.
    var temp = ""
    var fd: Int32 = -1
    for _ in 0..<8 where fd < 0 {
      temp = temporaryName(path)
      fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
      if fd < 0 && errno != EEXIST { break }
    }
    guard fd >= 0 else { throw SystemError("create", temp) }
    // The umask must not loosen or tighten what the caller asked for (0600 for secrets).
    fchmod(fd, mode)
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
      if n < 0 {
        if errno == EINTR { continue }
        let err = SystemError("write", temp)
        close(fd)
        unlink(temp)
        throw err
      }
      offset += n
    }
    if durable && fsync(fd) != 0 {
      let err = SystemError("fsync", temp)
      close(fd)
      unlink(temp)
      throw err
    }
    close(fd)
    var old = stat()
    if !durable && lstat(path, &old) == 0 && (old.st_mode & S_IFMT) != S_IFDIR
      && cinit_rename_exchange(temp, path) == 0
    {
      unlink(temp)  // now the old file
      return
    }
    var renamed = Glibc.rename(temp, path) == 0
    if !renamed && errno == EISDIR, let aside = moveAside(path) {
      // A folder where a state file belongs (made by hand, or by a tool gone wrong): kept, not in the way.
      Log.warn("\(path) was a folder, not a file; moved it to \(aside)")
      renamed = Glibc.rename(temp, path) == 0
    }
    guard renamed else {
      let err = SystemError("rename", temp)
      unlink(temp)
      throw err
    }
    if durable { syncDirectory(containing: path) }
  }

  /// Where writeAtomically writes before it renames: "PATH.tmp-RANDOM", a name no one can plant ahead.
  public static func randomTemporaryName(for path: String) -> String {
    var random = SystemRandomNumberGenerator()
    return path + ".tmp-\(random.next() as UInt64)"
  }

  /// Renames `path` (never followed if it is a link) to a free "path.suffix[-N]" beside it;
  /// returns the new name, nil when it cannot be moved.
  public static func moveAside(_ path: String, suffix: String = "broken") -> String? {
    let aside = freeName(beside: path, suffix: suffix)
    guard Glibc.rename(path, aside) == 0 else { return nil }
    syncDirectory(containing: aside)
    return aside
  }

  public static func writeAtomically(
    _ path: String, _ text: String, mode: mode_t = 0o644, durable: Bool = true
  ) throws(SystemError) {
    try writeAtomically(path, Array(text.utf8), mode: mode, durable: durable)
  }

  /// Makes the rename of an entry in that folder durable.
  public static func syncDirectory(containing path: String) {
    let fd = open(parent(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }

  /// mkdir -p.
  public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
    if isDirectory(path) { return }
    let up = parent(of: path)
    if up != path && !up.isEmpty { try makeDirectories(up, mode: mode) }
    if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("create folder", path) }
  }

  public static func rename(_ from: String, to: String) throws(SystemError) {
    guard Glibc.rename(from, to) == 0 else { throw SystemError("rename \(from) to", to) }
    syncDirectory(containing: to)
  }

  /// Names in a folder, without "." and "..", sorted; empty when it cannot be read.
  public static func list(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    return names(dir)
  }

  /// The names a folder stream holds, then closes it.
  static func names(_ dir: OpaquePointer) -> [String] {
    defer { closedir(dir) }
    var names = [String]()
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
  }

  /// Removes a tree that comfy-init itself created (temporary clones). Never used on user data.
  public static func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
      for name in list(path) { removeTree(path + "/" + name) }
      rmdir(path)
    } else {
      unlink(path)
    }
  }

  /// A name beside `path` that does not exist yet: "path.suffix", "path.suffix-2", ...
  public static func freeName(beside path: String, suffix: String) -> String {
    var candidate = path + "." + suffix
    var n = 2
    var st = stat()
    while lstat(candidate, &st) == 0 {
      candidate = path + "." + suffix + "-\(n)"
      n += 1
    }
    return candidate
  }

  public static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  public static func baseName(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }

  /// Free bytes for unprivileged users on the filesystem holding `path`.
  public static func freeBytes(at path: String) -> UInt64? {
    var st = statvfs()
    guard statvfs(path, &st) == 0 else { return nil }
    return UInt64(st.f_bavail) * UInt64(st.f_frsize)
  }

  /// True when `fd` is a regular file.
  public static func isRegular(_ fd: Int32) -> Bool {
    var st = stat()
    return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
  }

  /// chown -R for PUID/PGID, safe for root to run on a tree others can write to. `path` is opened
  /// below `base` (which may hold links: the administrator's) one component at a time without
  /// following a link; then every step is relative to an open folder, so a folder swapped for a link
  /// mid-walk changes nothing. Links are chowned, never followed; another filesystem or mount (a
  /// bind-mounted host folder, a volume) is not entered; a file with several hard links (it may live
  /// outside the tree too) is left alone, and so are the trees in `skipping` (handed over already).
  /// Walks only when `path` belongs to someone else; returns (entries chowned, hard-linked files left).
  public static func handOver(
    _ path: String, below base: String, uid: uid_t, gid: gid_t, skipping: [String] = []
  ) -> (Int, Int) {
    var fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    for part in path.dropFirst(base.count).split(separator: "/") where fd >= 0 {
      let next = cinit_open_entry(fd, String(part))
      close(fd)
      fd = next
    }
    guard fd >= 0 else { return (0, 0) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid != uid || st.st_gid != gid else {
      return (0, 0)
    }
    var counts = (cinit_chown_fd(fd, uid, gid) == 0 ? 1 : 0, 0)
    walk(fd, path, device: st.st_dev, mount: cinit_mount_id(fd), uid: uid, gid: gid, skipping, &counts)
    return counts
  }

  private static func walk(
    _ dir: Int32, _ path: String, device: dev_t, mount: UInt64, uid: uid_t, gid: gid_t, _ skipping: [String],
    _ counts: inout (Int, Int)
  ) {
    let listing = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard let stream = fdopendir(listing) else {
      close(listing)
      return
    }
    for name in names(stream) where !skipping.contains(path + "/" + name) {
      let fd = cinit_open_entry(dir, name)
      guard fd >= 0 else { continue }
      defer { close(fd) }
      var st = stat()
      guard fstat(fd, &st) == 0 else { continue }
      let kind = st.st_mode & S_IFMT
      if st.st_dev != device || cinit_mount_id(fd) != mount {
        if st.st_uid != uid || st.st_gid != gid {
          Log.warn("left \(path)/\(name) as it is: another filesystem or mount; chown it if PUID must write there")
        }
      } else if kind != S_IFDIR && st.st_nlink > 1 {
        counts.1 += 1
      } else {
        if cinit_chown_fd(fd, uid, gid) == 0 { counts.0 += 1 }
        if kind == S_IFDIR {
          walk(fd, path + "/" + name, device: device, mount: mount, uid: uid, gid: gid, skipping, &counts)
        }
      }
    }
  }
}
