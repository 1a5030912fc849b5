// The workflow that ships inside comfyctl (`generate --builtin`, validate's "generates an image"):
// core nodes only, no model file, so any ComfyUI that runs can make it, and an output that can be
// checked exactly.
import Foundation

public enum BuiltinWorkflow {
  public static let size = 64
  /// EmptyImage's colour, 0x3366CC.
  public static let color = 0x3366CC
  /// What SaveImage writes after ImageInvert: 255 - each channel, except that blue is 0x32, not 0x33.
  /// ComfyUI works in floats (0xCC/255 = 0.8, 1 - 0.8 = 0.19999...) and SaveImage truncates
  /// 255 * 0.19999... to 50: seen on the real ComfyUI v0.8.0.
  public static let expectedPixel: UInt32 = 0xCC9932
  public static let filenamePrefix = "comfyctl-builtin"

  /// EmptyImage -> ImageInvert -> SaveImage, in API format.
  public static var prompt: [String: Any] {
    [
      "1": [
        "class_type": "EmptyImage",
        "inputs": ["width": size, "height": size, "batch_size": 1, "color": color],
      ],
      "2": ["class_type": "ImageInvert", "inputs": ["image": ["1", 0]]],
      "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": filenamePrefix]],
    ]
  }

  public static var expected: String {
    "a \(size)x\(size) PNG, every pixel #\(String(expectedPixel, radix: 16, uppercase: true))"
  }

  /// nil when `png` is what the workflow must make; otherwise what is wrong with it.
  public static func problem(with png: [UInt8]) -> String? {
    let image: PNGImage
    do {
      image = try PNGImage(png)
    } catch {
      return error.description
    }
    guard image.width == size && image.height == size else {
      return "a \(image.width)x\(image.height) PNG, not \(size)x\(size)"
    }
    if let other = image.pixels.first(where: { $0 != expectedPixel }) {
      let count = image.pixels.filter { $0 != expectedPixel }.count
      return "\(count) pixels differ from #\(String(expectedPixel, radix: 16, uppercase: true)) "
        + "(e.g. #\(String(other, radix: 16, uppercase: true)))"
    }
    return nil
  }
}
