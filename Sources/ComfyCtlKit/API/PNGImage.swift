// Just enough PNG decoding to check what the built-in workflow made: the size, and every pixel
// (8-bit RGB or RGBA, not interlaced, as ComfyUI's SaveImage writes through Pillow).
import CZlib

public struct PNGImage: Equatable, Sendable {
  public var width: Int
  public var height: Int
  /// Row-major RGB triples, 0xRRGGBB.
  public var pixels: [UInt32]

  public struct Problem: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  public init(_ bytes: [UInt8]) throws(Problem) {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    guard bytes.count > 8, Array(bytes[0..<8]) == signature else { throw Problem(description: "not a PNG file") }
    var offset = 8
    var header: [UInt8] = []
    var data: [UInt8] = []
    func be32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
    while offset + 8 <= bytes.count {
      let length = be32(offset)
      let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
      guard offset + 12 + length <= bytes.count else { throw Problem(description: "a truncated PNG chunk (\(type))") }
      let body = bytes[offset + 8..<offset + 8 + length]
      if type == "IHDR" { header = Array(body) }
      if type == "IDAT" { data += body }
      offset += 12 + length
      if type == "IEND" { break }
    }
    guard header.count == 13 else { throw Problem(description: "a PNG without its IHDR header") }
    width = header[0..<4].reduce(0) { $0 << 8 | Int($1) }
    height = header[4..<8].reduce(0) { $0 << 8 | Int($1) }
    let (depth, colour, interlace) = (header[8], header[9], header[12])
    guard depth == 8, colour == 2 || colour == 6, interlace == 0 else {
      throw Problem(description: "a PNG of bit depth \(depth), colour type \(colour), interlace \(interlace)")
    }
    let channels = colour == 2 ? 3 : 4
    let stride = width * channels
    var raw = [UInt8](repeating: 0, count: height * (stride + 1))
    var rawLength = UInt(raw.count)
    let status = raw.withUnsafeMutableBufferPointer { out in
      data.withUnsafeBufferPointer { uncompress(out.baseAddress, &rawLength, $0.baseAddress, UInt(data.count)) }
    }
    guard status == Z_OK, rawLength == UInt(raw.count) else {
      throw Problem(description: "the PNG's image data does not inflate to \(width)x\(height)")
    }
    pixels = PNGImage.unfilter(raw, height: height, stride: stride, channels: channels)
  }

  /// Undoes the per-row filters (PNG spec 9.2).
  static func unfilter(_ raw: [UInt8], height: Int, stride: Int, channels: Int) -> [UInt32] {
    var previous = [UInt8](repeating: 0, count: stride)
    var pixels: [UInt32] = []
    pixels.reserveCapacity(height * stride / channels)
    for row in 0..<height {
      let start = row * (stride + 1)
      let filter = raw[start]
      var line = Array(raw[start + 1..<start + 1 + stride])
      for index in 0..<stride {
        let left = index >= channels ? Int(line[index - channels]) : 0
        let up = Int(previous[index])
        let upLeft = index >= channels ? Int(previous[index - channels]) : 0
        let predicted: Int
        switch filter {
        case 1: predicted = left
        case 2: predicted = up
        case 3: predicted = (left + up) / 2
        case 4:
          let estimate = left + up - upLeft
          let (a, b, c) = (abs(estimate - left), abs(estimate - up), abs(estimate - upLeft))
          predicted = a <= b && a <= c ? left : (b <= c ? up : upLeft)
        default: predicted = 0
        }
        line[index] = UInt8((Int(line[index]) + predicted) & 0xFF)
      }
      for pixel in 0..<(stride / channels) {
        let at = pixel * channels
        pixels.append(UInt32(line[at]) << 16 | UInt32(line[at + 1]) << 8 | UInt32(line[at + 2]))
      }
      previous = line
    }
    return pixels
  }
}
