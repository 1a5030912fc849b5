// DEST.partial.parts: which bytes of a many-connection download are already in DEST.partial, so that
// a SIGKILL costs only what arrived since the last save (every few seconds and at each finished
// piece). The data is not flushed for each save: a killed process's writes are in the page cache
// anyway, and an fsync of gigabytes every few seconds would stall every connection on a network
// filesystem; after a power cut the map may claim bytes the disk lost, which the whole file's SHA-256
// then refuses (moved aside, fetched again). A stop or the end flushes. The partial file has its whole
// size from the start; its length says nothing, the map says everything. A map for another size or
// source is not ours: the download starts over.
#if canImport(Glibc)
  import Glibc
#endif

struct PartMap: Equatable {
  var size: Int64
  var pieceSize: Int64
  /// The source the bytes came from (the lock's pinned text): another source's bytes are not these.
  var source: String
  /// Bytes present from each piece's start.
  var done: [Int64]

  init(size: Int64, source: String, pieceSize: Int64) {
    self.size = size
    self.pieceSize = pieceSize
    self.source = source
    done = Array(repeating: 0, count: Int((size + pieceSize - 1) / pieceSize))
  }

  var count: Int { done.count }
  func start(_ piece: Int) -> Int64 { Int64(piece) * pieceSize }
  func length(_ piece: Int) -> Int64 { min(pieceSize, size - start(piece)) }
  func isComplete(_ piece: Int) -> Bool { done[piece] >= length(piece) }
  var isComplete: Bool { done.indices.allSatisfy(isComplete) }
  var bytesPresent: Int64 { done.reduce(0, +) }

  /// The end of the bytes present from 0 on without a gap: how far the SHA-256 can run.
  var contiguous: Int64 {
    var end: Int64 = 0
    for piece in done.indices {
      end = start(piece) + done[piece]
      if !isComplete(piece) { break }
    }
    return min(end, size)
  }

  var text: String {
    "comfy-init parts 1\nsize \(size)\npiece \(pieceSize)\nsource \(source)\ndone "
      + done.map(String.init).joined(separator: " ") + "\n"
  }

  /// The map at `path` if it describes this download; nil when absent, garbage or another's.
  static func read(_ path: String, size: Int64, source: String) -> PartMap? {
    guard let text = FileSystem.readState(path, limit: 1 << 20) else { return nil }
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
      guard let space = line.firstIndex(of: " ") else { continue }
      fields[String(line[..<space])] = String(line[line.index(after: space)...])
    }
    guard fields["comfy-init"] == "parts 1", fields["size"] == String(size), fields["source"] == source,
      let piece = fields["piece"].flatMap({ Int($0) }), piece > 0
    else { return nil }
    var map = PartMap(size: size, source: source, pieceSize: Int64(piece))
    let numbers = (fields["done"] ?? "").split(separator: " ").compactMap { Int($0) }
    guard numbers.count == map.count else { return nil }
    for (index, number) in numbers.enumerated() { map.done[index] = min(max(0, Int64(number)), map.length(index)) }
    return map
  }

  /// Best effort: without a map the next start fetches the pieces again.
  func save(_ path: String) {
    try? FileSystem.writeAtomically(path, text, durable: false)
  }
}
