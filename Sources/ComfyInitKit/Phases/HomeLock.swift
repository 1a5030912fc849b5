// An exclusive lock on COMFYUI_HOME: two containers sharing a volume never install at once.
// The second waits (still answering stop signals), then finds the work done.
#if canImport(Glibc)
  import Glibc
#endif

final class HomeLock {
  private let fd: Int32

  /// `path`: HomeLayout.lockFile.
  init(path: String, supervisor: Supervisor) throws {
    // A folder or a FIFO there is garbage, not a lock anyone holds: kept aside, not in the way.
    var st = stat()
    if lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG, (st.st_mode & S_IFMT) != S_IFLNK,
      let aside = FileSystem.moveAside(path)
    {
      Log.warn("lock: \(path) was not a plain file; moved it to \(aside)")
    }
    // Never through a link, never anything but a plain file: it is truncated below.
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
    guard fd >= 0, FileSystem.isRegular(fd) else {
      let reason = fd >= 0 ? "not a regular file" : String(cString: strerror(errno))
      if fd >= 0 { close(fd) }
      throw InitError(.lock, "cannot open \(path): \(reason); make COMFYUI_HOME writable and the lock a plain file")
    }
    var announced = false
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw InitError(.lock, "cannot lock \(path): \(reason); the filesystem must support flock()")
      }
      if !announced {
        let holder = FileSystem.readState(path, limit: 256)?.trimmingWhitespace() ?? "?"
        Log.info("lock: another comfy-init (\(holder)) is installing into this home; waiting for it")
        announced = true
      }
      do { try supervisor.throwIfStopped(waitingMilliseconds: 200) } catch {
        close(fd)
        throw error
      }
    }
    // Written over the old note, then cut to length only when the old one was longer: truncating
    // a file whose last contents are still being written out waits for the disk (ext4, data=ordered),
    // and as PID 1 the note is the same at every start.
    let note = Array("pid \(getpid())\n".utf8)
    _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    var size = stat()
    if fstat(fd, &size) == 0 && size.st_size > note.count { ftruncate(fd, off_t(note.count)) }
  }

  func release() {
    flock(fd, LOCK_UN)
    close(fd)
  }
}
