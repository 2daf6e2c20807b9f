import Foundation

/// A rotated square in frame pixels: centre, side, rotation (radians, MediaPipe sign).
public struct Roi: Equatable {
    public var cx: Double
    public var cy: Double
    public var size: Double
    public var rotation: Double

    public init(cx: Double, cy: Double, size: Double, rotation: Double) {
        self.cx = cx; self.cy = cy; self.size = size; self.rotation = rotation
    }

    /// Frame px -> crop px (MediaPipe ImageToTensor's rotated-rect warp).
    public func affine(outSize: Int = FaceMesh.inputSize) -> Affine2D {
        let c = cos(rotation), s = sin(rotation), k = Double(outSize) / size, h = Double(outSize) / 2
        return Affine2D([c * k, s * k, -(c * cx + s * cy) * k + h,
                         -s * k, c * k, -(-s * cx + c * cy) * k + h])
    }
}

/// FaceMesh 468-point landmarker pre/post-processing (`lrdif.sdk.face.landmarker`).
public enum FaceMesh {
    public static let inputSize = 192
    public static let numLandmarks = 468
    public static let leftEyeOuter = 33
    public static let rightEyeOuter = 263

    static func normalizeRadians(_ a: Double) -> Double {
        a - 2 * Double.pi * ((a + Double.pi) / (2 * Double.pi)).rounded(.down)
    }

    /// MediaPipe FaceDetectionFrontDetectionToRoi: eye keypoints 0 -> 1, 1.5x, square long side.
    public static func roi(from det: Detection, scale: Double = 1.5) -> Roi {
        let b = det.box.map(Double.init), k = det.keypoints.map(Double.init)
        let rot = normalizeRadians(0 - atan2(-(k[3] - k[1]), k[2] - k[0]))
        return Roi(cx: b[0] + b[2] / 2, cy: b[1] + b[3] / 2, size: max(b[2], b[3]) * scale, rotation: rot)
    }

    /// MediaPipe FaceLandmarkLandmarksToRoi (video mode): landmark bbox, rotation from 33 -> 263.
    public static func roi(fromLandmarks lm: [Float], scale: Double = 1.5) throws -> Roi {
        let p = try landmarksXY(lm, name: "previous landmarks")
        var x0 = Double.infinity, y0 = Double.infinity, x1 = -Double.infinity, y1 = -Double.infinity
        for (x, y) in p { x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y) }
        let a = p[leftEyeOuter], b = p[rightEyeOuter]
        let rot = normalizeRadians(0 - atan2(-(b.1 - a.1), b.0 - a.0))
        return Roi(cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, size: max(x1 - x0, y1 - y0) * scale, rotation: rot)
    }

    /// (x, y) pairs in double of 468 x 3 (or 468 x 2) landmarks; throws on a wrong count or NaN.
    public static func landmarksXY(_ lm: [Float], name: String = "landmarks") throws -> [(Double, Double)] {
        let stride: Int
        switch lm.count {
        case numLandmarks * 3: stride = 3
        case numLandmarks * 2: stride = 2
        default:
            throw LrdifError.invalidInput("\(name) must hold 468 points of (x, y) or (x, y, z): got \(lm.count) values "
                                          + "(the lrdif crop needs the 468-point FaceMesh scheme)")
        }
        guard lm.allSatisfy(\.isFinite) else { throw LrdifError.invalidInput("\(name) contains NaN or inf") }
        return (0..<numLandmarks).map { (Double(lm[$0 * stride]), Double(lm[$0 * stride + 1])) }
    }

    /// The landmarker's 192x192 input (bilinear, border replicate); float tensor = pixel / 255.
    public static func cropImage(_ frame: RGBImage, roi: Roi) throws -> RGBImage {
        guard roi.size > 0, roi.size.isFinite else {
            throw LrdifError.invalidInput("ROI size must be positive and finite, got \(roi.size)")
        }
        return try warpAffine(frame, roi.affine(), width: inputSize, height: inputSize, border: .replicate)
    }

    public static func landmarkTensor(_ img: RGBImage) -> [Float] {
        img.pixels.map { Float($0) * (1.0 / 255.0) }
    }

    /// LandmarkProjection: 468 x 3 crop-px outputs -> frame px (z scaled like x).
    public static func project(_ pts: [Float], roi: Roi) throws -> [Float] {
        guard pts.count == numLandmarks * 3 else {
            throw LrdifError.runtime("landmark model must return 468 x 3 values, got \(pts.count)")
        }
        let c = cos(roi.rotation), s = sin(roi.rotation), n = Double(inputSize)
        var out = [Float](repeating: 0, count: pts.count)
        for i in 0..<numLandmarks {
            let u = Double(pts[3 * i]) / n - 0.5, v = Double(pts[3 * i + 1]) / n - 0.5
            out[3 * i] = Float((c * u - s * v) * roi.size + roi.cx)
            out[3 * i + 1] = Float((s * u + c * v) * roi.size + roi.cy)
            out[3 * i + 2] = Float(Double(pts[3 * i + 2]) / n * roi.size)
        }
        return out
    }

    public static func presence(logit: Float) -> Double { BlazeFace.sigmoid(Double(logit)) }
}
