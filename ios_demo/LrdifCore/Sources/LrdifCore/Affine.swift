import Foundation

/// A 2x3 affine transform [[a, b, c], [d, e, f]]: (x, y) -> (a x + b y + c, d x + e y + f).
public struct Affine2D: Equatable {
    public var m: [Double]   // a, b, c, d, e, f

    public init(_ m: [Double]) {
        precondition(m.count == 6, "an affine has 6 coefficients")
        self.m = m
    }

    public func apply(_ x: Double, _ y: Double) -> (Double, Double) {
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    /// The inverse (cv2.invertAffineTransform); nil when singular.
    public func inverted() -> Affine2D? {
        let det = m[0] * m[4] - m[1] * m[3]
        guard det != 0, det.isFinite else { return nil }
        let a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det
        return Affine2D([a, b, -a * m[2] - b * m[5], d, e, -d * m[2] - e * m[5]])
    }
}
