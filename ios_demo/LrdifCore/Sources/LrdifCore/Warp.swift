import Foundation

/// Border handling of `warpAffine` (cv2.BORDER_REPLICATE / cv2.BORDER_CONSTANT with 0).
public enum Border {
    case replicate
    case zero
}

/// Bilinear affine warp with the conventions of `cv2.warpAffine(src, M, (w, h), INTER_LINEAR)`:
/// `forward` maps source pixel indices to output pixel indices (pixel centres at integers); every
/// output pixel samples the source at `forward^-1(x, y)`. Interpolation in double precision,
/// rounded to nearest: matches OpenCV's float linear kernels within 1 grey level.
public func warpAffine(_ src: RGBImage, _ forward: Affine2D, width: Int, height: Int,
                       border: Border) throws -> RGBImage {
    guard let inv = forward.inverted() else {
        throw LrdifError.invalidInput("affine \(forward.m) is singular")
    }
    var out = RGBImage(blankWidth: width, height: height)
    let w = src.width, h = src.height
    src.pixels.withUnsafeBufferPointer { s in
        out.pixels.withUnsafeMutableBufferPointer { o in
            for y in 0..<height {
                for x in 0..<width {
                    let (sx, sy) = inv.apply(Double(x), Double(y))
                    guard sx.isFinite, sy.isFinite, abs(sx) < 1e9, abs(sy) < 1e9 else { continue }
                    let fx0 = sx.rounded(.down), fy0 = sy.rounded(.down)
                    let ax = sx - fx0, ay = sy - fy0
                    let x0 = Int(fx0), y0 = Int(fy0)
                    let d = (y * width + x) * 3
                    for c in 0..<3 {
                        func tap(_ xx: Int, _ yy: Int) -> Double {
                            if xx >= 0 && xx < w && yy >= 0 && yy < h { return Double(s[(yy * w + xx) * 3 + c]) }
                            if border == .zero { return 0 }
                            return Double(s[(min(max(yy, 0), h - 1) * w + min(max(xx, 0), w - 1)) * 3 + c])
                        }
                        let top = tap(x0, y0) * (1 - ax) + tap(x0 + 1, y0) * ax
                        let bottom = tap(x0, y0 + 1) * (1 - ax) + tap(x0 + 1, y0 + 1) * ax
                        let v = top * (1 - ay) + bottom * ay
                        o[d + c] = UInt8(min(max((v + 0.5).rounded(.down), 0), 255))
                    }
                }
            }
        }
    }
    return out
}
