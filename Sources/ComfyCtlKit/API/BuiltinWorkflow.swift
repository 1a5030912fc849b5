// The workflow that ships inside comfyctl (`generate --builtin`, validate's "generates an image"):
// core nodes only, no model file, so any ComfyUI that runs can make it, and an output that can be
// checked exactly.
import Foundation

public struct BuiltinWorkflow: Sendable {
  public static let size = 64
  public static let filenamePrefix = "comfyctl-builtin"

  /// EmptyImage's colour. Each run gets its own (`random()`): ComfyUI caches a node whose inputs it has
  /// seen, so a second run of the same graph would execute nothing and time nothing.
  public let color: Int

  public init(color: Int) { self.color = color & 0xFFFFFF }

  public static func random() -> BuiltinWorkflow { BuiltinWorkflow(color: Int.random(in: 0...0xFFFFFF)) }

  /// What SaveImage writes after ImageInvert. ComfyUI works in float32 (EmptyImage: channel / 255;
  /// ImageInvert: 1 - x; SaveImage: 255 * x, truncated to UInt8), so this is not 255 - channel for
  /// every value: 0x3366CC becomes 0xCC9932, not 0xCC9933. Checked against the real torch and numpy
  /// for all 256 channel values (BuiltinWorkflowTests).
  public var expectedPixel: UInt32 {
    [16, 8, 0].map { BuiltinWorkflow.inverted((color >> $0) & 0xFF) }.reduce(0) { $0 << 8 | $1 }
  }

  static func inverted(_ channel: Int) -> UInt32 {
    let value = Float(Double(channel) / 255)
    return UInt32((Float(255) * (1 - value)).rounded(.towardZero))
  }

  /// EmptyImage -> ImageInvert -> SaveImage, in API format.
  public var prompt: [String: Any] {
    let size = BuiltinWorkflow.size
    return [
      "1": [
        "class_type": "EmptyImage",
        "inputs": ["width": size, "height": size, "batch_size": 1, "color": color],
      ],
      "2": ["class_type": "ImageInvert", "inputs": ["image": ["1", 0]]],
      "3": [
        "class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": BuiltinWorkflow.filenamePrefix],
      ],
    ]
  }

  public var expected: String {
    "a \(BuiltinWorkflow.size)x\(BuiltinWorkflow.size) PNG, every pixel #\(hex(expectedPixel))"
  }

  private func hex(_ pixel: UInt32) -> String {
    let digits = String(pixel, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
  }

  /// nil when `png` is what the workflow must make; otherwise what is wrong with it.
  public func problem(with png: [UInt8]) -> String? {
    let image: PNGImage
    do {
      image = try PNGImage(png)
    } catch {
      return error.description
    }
    let size = BuiltinWorkflow.size
    guard image.width == size && image.height == size else {
      return "a \(image.width)x\(image.height) PNG, not \(size)x\(size)"
    }
    let expectedPixel = self.expectedPixel
    if let other = image.pixels.first(where: { $0 != expectedPixel }) {
      let count = image.pixels.filter { $0 != expectedPixel }.count
      return "\(count) pixels differ from #\(hex(expectedPixel)) (e.g. #\(hex(other)))"
    }
    return nil
  }
}
