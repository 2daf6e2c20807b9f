import Foundation

/// The emotion-model crop (`lrdif.sdk.face.crop`, rule "facemesh-eye-aligned-square"): eyes
/// (landmarks 33 -> 263) levelled, square around the rotated landmark box scaled by `scale`,
/// moved by `shiftY` * side, resampled bilinearly (border replicate) to size x size.
public enum EmotionCrop {
    public static let rule = "facemesh-eye-aligned-square"

    public static func check(_ spec: CropSpec) throws {
        guard spec.rule == rule else {
            throw LrdifError.metadata("unsupported crop rule '\(spec.rule)' (this core implements '\(rule)')")
        }
        guard spec.size >= 8 else { throw LrdifError.metadata("crop size must be an int >= 8, got \(spec.size)") }
        guard spec.scale.isFinite, spec.scale > 0 else {
            throw LrdifError.metadata("crop scale must be positive, got \(spec.scale)")
        }
        guard spec.shiftY.isFinite else { throw LrdifError.metadata("crop shift_y must be finite, got \(spec.shiftY)") }
    }

    /// Frame pixel indices -> crop pixel indices (cv2.warpAffine convention), from 468 landmarks
    /// in frame px (x, y or x, y, z; MediaPipe's continuous convention).
    public static func affine(landmarks: [Float], spec: CropSpec) throws -> Affine2D {
        try check(spec)
        let p = try FaceMesh.landmarksXY(landmarks)
        let a = p[FaceMesh.leftEyeOuter], b = p[FaceMesh.rightEyeOuter]
        let angle = atan2(b.1 - a.1, b.0 - a.0)
        let c = cos(angle), s = sin(angle)
        var lo = (Double.infinity, Double.infinity), hi = (-Double.infinity, -Double.infinity)
        for (x, y) in p {
            let qx = x * c + y * s, qy = x * -s + y * c
            lo = (min(lo.0, qx), min(lo.1, qy)); hi = (max(hi.0, qx), max(hi.1, qy))
        }
        let side = spec.scale * max(hi.0 - lo.0, hi.1 - lo.1)
        guard side > 0 else { throw LrdifError.invalidInput("landmarks are degenerate (zero-size bounding box)") }
        let centre = ((lo.0 + hi.0) / 2, (lo.1 + hi.1) / 2 + spec.shiftY * side)
        let k = Double(spec.size) / side
        let l = [c * k, s * k, -s * k, c * k]
        let t = ((-centre.0 + side / 2) * k, (-centre.1 + side / 2) * k)
        // continuous -> index convention on both sides: x_idx = x_cont - 0.5
        return Affine2D([l[0], l[1], t.0 + (l[0] * 0.5 + l[1] * 0.5) - 0.5,
                         l[2], l[3], t.1 + (l[2] * 0.5 + l[3] * 0.5) - 0.5])
    }

    /// 468 frame-px landmarks -> crop-normalised [0, 1] (x, y) through `affine` (468 x 2).
    public static func cropLandmarks(_ landmarks: [Float], affine: Affine2D, size: Int) throws -> [Float] {
        let p = try FaceMesh.landmarksXY(landmarks)
        var out = [Float]()
        out.reserveCapacity(p.count * 2)
        for (x, y) in p {
            let (u, v) = affine.apply(x - 0.5, y - 0.5)
            out.append(Float((u + 0.5) / Double(size)))
            out.append(Float((v + 0.5) / Double(size)))
        }
        return out
    }

    /// The crop itself: bilinear, border replicate.
    public static func warp(_ frame: RGBImage, affine: Affine2D, size: Int) throws -> RGBImage {
        try warpAffine(frame, affine, width: size, height: size, border: .replicate)
    }
}
