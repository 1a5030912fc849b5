// Copies the server's output to the container log with secrets cut out. ComfyUI-Login logs its
// API token ("For direct API calls, use token=<hash>"), and `docker logs` must never show it.
#if canImport(Glibc)
  import Glibc
#endif

final class LogRelay {
  let source: Int32
  private let destination: Int32
  private let secrets: [[UInt8]]
  private let longestSecret: Int
  private var pending: [UInt8] = []
  private static let replacement = Array("<redacted>".utf8)

  /// `source` is the read end of the pipe the child writes to; it is closed at end of file.
  init(source: Int32, destination: Int32, secrets: [String]) {
    self.source = source
    self.destination = destination
    self.secrets = secrets.filter { !$0.isEmpty }.map { Array($0.utf8) }
    longestSecret = self.secrets.map(\.count).max() ?? 0
    _ = fcntl(source, F_SETFL, fcntl(source, F_GETFL) | O_NONBLOCK)
  }

  /// Reads what is there now and writes every complete line; false once the child closed its end.
  func pump() -> Bool {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
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
  }

  /// Writes whatever is left, e.g. when the child has exited but a grandchild keeps the pipe open.
  func flush() {
    emit(pending[...])
    pending.removeAll()
  }

  /// Lines end at "\n" or "\r" (progress bars). A long line without an end is written up to the
  /// point where a secret could still be starting, so output never stalls.
  private func writeCompleteLines() {
    if let lastEnd = pending.lastIndex(where: { $0 == 10 || $0 == 13 }) {
      emit(pending[...lastEnd])
      pending.removeSubrange(...lastEnd)
    }
    if pending.count > 4096 + longestSecret {
      let cut = pending.count - longestSecret
      emit(pending[..<cut])
      pending.removeSubrange(..<cut)
    }
  }

  private func emit(_ bytes: ArraySlice<UInt8>) {
    guard !bytes.isEmpty else { return }
    let clean = redact(Array(bytes))
    clean.withUnsafeBytes { buffer in
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

  func redact(_ bytes: [UInt8]) -> [UInt8] {
    guard !secrets.isEmpty else { return bytes }
    var out = [UInt8]()
    out.reserveCapacity(bytes.count)
    var i = 0
    outer: while i < bytes.count {
      for secret in secrets where bytes[i] == secret[0] && i + secret.count <= bytes.count {
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
