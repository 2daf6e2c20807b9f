import Foundation

/// An interleaved 8-bit RGB image, row-major (H x W x 3), as the SDK's `HxWx3 uint8` frames.
public struct RGBImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Throws `LrdifError.invalidInput` for an empty frame or a buffer of the wrong size.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0 else {
            throw LrdifError.invalidInput("frame is empty: \(width)x\(height); expected a non-empty RGB image")
        }
        guard pixels.count == width * height * 3 else {
            throw LrdifError.invalidInput("frame buffer has \(pixels.count) bytes; a \(width)x\(height) RGB frame needs \(width * height * 3)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black image (sizes are trusted: used for outputs the core allocates itself).
    init(blankWidth width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
    }

    /// An image from 8-bit RGBA / BGRA rows with a stride (what CVPixelBuffer / CGImage give);
    /// alpha is dropped. `bgr` swaps the first and third channels.
    public static func fromInterleaved4(width: Int, height: Int, bytesPerRow: Int, data: UnsafeRawBufferPointer,
                                        bgr: Bool) throws -> RGBImage {
        guard width > 0, height > 0 else {
            throw LrdifError.invalidInput("frame is empty: \(width)x\(height); expected a non-empty image")
        }
        guard bytesPerRow >= width * 4, data.count >= bytesPerRow * (height - 1) + width * 4 else {
            throw LrdifError.invalidInput("frame buffer of \(data.count) bytes is too small for \(width)x\(height) at \(bytesPerRow) bytes per row")
        }
        var out = RGBImage(blankWidth: width, height: height)
        let (r, b) = bgr ? (2, 0) : (0, 2)
        for y in 0..<height {
            for x in 0..<width {
                let s = y * bytesPerRow + x * 4, d = (y * width + x) * 3
                out.pixels[d] = data[s + r]
                out.pixels[d + 1] = data[s + 1]
                out.pixels[d + 2] = data[s + b]
            }
        }
        return out
    }
}
