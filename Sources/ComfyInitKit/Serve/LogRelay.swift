// Copies the server's output to the container log with secrets cut out. ComfyUI-Login logs its
// API token ("For direct API calls, use token=<hash>"), and `docker logs` must never show it.
// Each complete line is also shown to an observer first (the auth guard reads ComfyUI's import
// report there).
#if canImport(Glibc)
  import Glibc
#endif

final class LogRelay {
  let source: Int32
  private let destination: Int32
  private let secrets: [[UInt8]]
  private let longestSecret: Int
  private let observe: ((ArraySlice<UInt8>) -> Void)?
  private var pending: [UInt8] = []
  private static let replacement = Array("<redacted>".utf8)
  /// Reads per wake-up: a server that keeps the pipe full must not keep the init loop from its
  /// signals and zombies.
  private static let readsPerPump = 4
  /// A line longer than this without an end is written in pieces, so output never stalls.
  private static let longLine = 4096

  /// `source` is the read end of the pipe the child writes to; it is closed at end of file.
  init(source: Int32, destination: Int32, secrets: [String], observe: ((ArraySlice<UInt8>) -> Void)? = nil) {
    self.source = source
    self.destination = destination
    self.secrets = secrets.filter { !$0.isEmpty }.map { Array($0.utf8) }
    longestSecret = self.secrets.map(\.count).max() ?? 0
    self.observe = observe
    _ = fcntl(source, F_SETFL, fcntl(source, F_GETFL) | O_NONBLOCK)
  }

  /// Reads what is there now (a bounded amount) and writes every complete line; false once the
  /// child closed its end.
  func pump() -> Bool {
    var chunk = [UInt8](repeating: 0, count: 65536)
    for _ in 0..<LogRelay.readsPerPump {
      let n = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
      if n > 0 {
        pending.append(contentsOf: chunk[0..<n])
        writeCompleteLines()
        continue
      }
      if n == 0 || (errno != EAGAIN && errno != EINTR) {
        flush()
        close(source)
        return false
      }
      return true
    }
    return true
  }

  /// Writes whatever is left, e.g. when the child has exited but a grandchild keeps the pipe open.
  func flush() {
    if !pending.isEmpty { observe?(pending[...]) }
    emit(redact(pending[...])[...])
    pending.removeAll()
  }

  /// Lines end at "\n" or "\r" (progress bars). A long line without an end is redacted as it stands
  /// and written but for its last bytes, where a secret could still be starting.
  private func writeCompleteLines() {
    if let lastEnd = pending.lastIndex(where: { $0 == 10 || $0 == 13 }) {
      if let observe {
        var start = 0
        for index in 0...lastEnd where pending[index] == 10 || pending[index] == 13 {
          observe(pending[start..<index])
          start = index + 1
        }
      }
      emit(redact(pending[...lastEnd])[...])
      pending.removeSubrange(...lastEnd)
    }
    if pending.count > LogRelay.longLine + longestSecret {
      let clean = redact(pending[...])
      let keep = max(0, longestSecret - 1)
      emit(clean[..<(clean.count - keep)])
      pending = Array(clean[(clean.count - keep)...])
    }
  }

  private func emit(_ bytes: ArraySlice<UInt8>) {
    guard !bytes.isEmpty else { return }
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let n = write(destination, buffer.baseAddress! + offset, buffer.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          return  // the log reader went away; the server must keep running regardless
        }
        offset += n
      }
    }
  }

  func redact(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    guard !secrets.isEmpty else { return Array(bytes) }
    var out = [UInt8]()
    out.reserveCapacity(bytes.count)
    var i = bytes.startIndex
    outer: while i < bytes.endIndex {
      for secret in secrets where bytes[i] == secret[0] && i + secret.count <= bytes.endIndex {
        if bytes[i..<(i + secret.count)].elementsEqual(secret) {
          out.append(contentsOf: LogRelay.replacement)
          i += secret.count
          continue outer
        }
      }
      out.append(bytes[i])
      i += 1
    }
    return out
  }
}
