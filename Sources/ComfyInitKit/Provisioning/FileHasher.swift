// SHA-256 of what is already on disk: a present model, or the bytes of a partial download before
// it resumes (so the digest still covers the whole file without reading it twice).
import Digest

#if canImport(Glibc)
  import Glibc
#endif

enum FileHasher {
  /// Feeds the first `length` bytes of `fd` into `hasher`. `checkStop` runs every 256 MB, so a stop
  /// signal is not kept waiting behind a 20 GB read. Returns false on a read error (errno set).
  static func feed(
    _ hasher: SHA256, fd: Int32, from start: Int64 = 0, length: Int64, checkStop: () throws -> Void
  ) rethrows -> Bool {
    let size = 1 << 20
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    defer { buffer.deallocate() }
    var done: Int64 = 0
    while done < length {
      if done & ((1 << 28) - 1) == 0 { try checkStop() }
      let n = pread(fd, buffer.baseAddress, Int(min(Int64(size), length - done)), off_t(start + done))
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return false }
      hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      done += Int64(n)
    }
    return true
  }

  /// The hex digest of a whole file; nil when it cannot be read.
  static func hash(_ path: String, checkStop: () throws -> Void) throws -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    let hasher = SHA256()
    guard try feed(hasher, fd: fd, length: Int64(st.st_size), checkStop: checkStop) else { return nil }
    return hex(hasher.finalize())
  }
}
