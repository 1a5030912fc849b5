// The built-in workflow's expected output, against what the real ComfyUI computes.
import Testing

@testable import ComfyCtlKit

@Suite struct BuiltinWorkflowTests {
  /// SaveImage's byte for each channel value after EmptyImage -> ImageInvert, computed with the real
  /// torch 2.15 and numpy exactly as ComfyUI v0.8.0's nodes do it (`torch.full(..., c / 0xFF)`,
  /// `1.0 - image`, `np.clip(255. * i, 0, 255).astype(np.uint8)`), for every channel value.
  static let realServer: [UInt32] = [
    255, 254, 253, 252, 251, 250, 249, 248, 247, 246, 245, 244, 243, 242, 241, 240,
    239, 238, 237, 236, 235, 234, 233, 232, 231, 230, 229, 228, 227, 226, 225, 224,
    223, 222, 221, 220, 219, 218, 217, 216, 215, 214, 213, 212, 211, 210, 209, 208,
    207, 206, 205, 204, 203, 202, 201, 200, 199, 198, 197, 196, 195, 194, 193, 192,
    191, 189, 189, 187, 187, 185, 185, 183, 183, 181, 181, 179, 179, 177, 177, 175,
    175, 173, 173, 171, 171, 169, 169, 167, 167, 165, 165, 163, 163, 161, 161, 159,
    159, 157, 157, 155, 155, 153, 153, 151, 151, 149, 149, 147, 147, 145, 145, 143,
    143, 141, 141, 139, 139, 137, 137, 135, 135, 133, 133, 131, 131, 129, 129, 127,
    126, 125, 124, 123, 122, 121, 120, 119, 118, 117, 116, 115, 114, 113, 112, 111,
    110, 109, 108, 107, 106, 105, 104, 103, 102, 101, 100, 99, 98, 97, 96, 95,
    94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79,
    78, 77, 76, 75, 74, 73, 72, 71, 70, 69, 68, 67, 66, 65, 64, 63,
    62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
    46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31,
    30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15,
    14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0,
  ]

  @Test func eachChannelIsInvertedInFloat32AsTheRealServerDoesIt() {
    for channel in 0..<256 {
      #expect(BuiltinWorkflow.inverted(channel) == BuiltinWorkflowTests.realServer[channel], "channel \(channel)")
    }
  }

  @Test func thePixelIsTheInvertedColourChannelByChannel() {
    #expect(BuiltinWorkflow(color: 0x3366CC).expectedPixel == 0xCC9932)
    #expect(BuiltinWorkflow(color: 0x000000).expectedPixel == 0xFFFFFF)
    #expect(BuiltinWorkflow(color: 0x418000).expectedPixel == 0xBD7EFF)
    #expect(BuiltinWorkflow(color: 0x000000).expected == "a 64x64 PNG, every pixel #FFFFFF")
    #expect(BuiltinWorkflow(color: 0xFFFFFF).expected == "a 64x64 PNG, every pixel #000000")
  }

  @Test func runsGetDifferentColoursSoThatNoneComesFromTheServersCache() {
    let colours = Set((0..<8).map { _ in BuiltinWorkflow.random().color })
    #expect(colours.count > 1)
  }
}
