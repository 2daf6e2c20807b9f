import CoreGraphics
import CoreVideo
import LrdifCore
import UIKit

/// Camera and photo frames -> LrdifCore's RGB images.
enum FrameConversion {
    /// A 32BGRA camera buffer (the capture output's pixel format).
    static func rgb(from buffer: CVPixelBuffer) throws -> RGBImage {
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        guard CVPixelBufferGetPixelFormatType(buffer) == kCVPixelFormatType_32BGRA,
              let base = CVPixelBufferGetBaseAddress(buffer) else {
            throw LrdifError.invalidInput("camera frame is not a readable 32BGRA buffer")
        }
        let w = CVPixelBufferGetWidth(buffer), h = CVPixelBufferGetHeight(buffer)
        let bpr = CVPixelBufferGetBytesPerRow(buffer)
        return try RGBImage.fromInterleaved4(width: w, height: h, bytesPerRow: bpr,
                                             data: UnsafeRawBufferPointer(start: base, count: bpr * h), bgr: true)
    }

    /// A still photo, drawn upright (EXIF orientation applied) into an RGBA buffer, longest side
    /// at most `maxSide` pixels.
    static func rgb(from image: UIImage, maxSide: CGFloat = 1280) throws -> RGBImage {
        let scale = min(1, maxSide / max(image.size.width, image.size.height))
        let w = Int((image.size.width * scale).rounded()), h = Int((image.size.height * scale).rounded())
        guard w > 0, h > 0 else { throw LrdifError.invalidInput("photo is empty: \(w)x\(h)") }
        var rgba = [UInt8](repeating: 0, count: w * h * 4)
        let drawn: Bool = rgba.withUnsafeMutableBytes { buf in
            guard let ctx = CGContext(data: buf.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4,
                                      space: CGColorSpaceCreateDeviceRGB(),
                                      bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return false }
            UIGraphicsPushContext(ctx)
            ctx.translateBy(x: 0, y: CGFloat(h))        // UIKit drawing is top-left origin
            ctx.scaleBy(x: 1, y: -1)
            image.draw(in: CGRect(x: 0, y: 0, width: w, height: h))
            UIGraphicsPopContext()
            return true
        }
        guard drawn else { throw LrdifError.invalidInput("cannot draw the photo into an RGB buffer") }
        return try rgba.withUnsafeBytes { try RGBImage.fromInterleaved4(width: w, height: h, bytesPerRow: w * 4, data: $0, bgr: false) }
    }
}
