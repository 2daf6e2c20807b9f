import Foundation

/// One face detection in frame pixels (MediaPipe convention: pixel = normalised * frame size).
public struct Detection: Equatable {
    public var box: [Float]          // x, y, w, h
    public var score: Float
    public var keypoints: [Float]    // 6 x (x, y): right eye, left eye, nose tip, mouth, right/left ear tragion
}

/// BlazeFace short-range post-processing (`lrdif.sdk.face.detector`): SSD anchors, box and
/// keypoint decoding, sigmoid (logits clipped to +-100), weighted NMS, letterbox removal.
public enum BlazeFace {
    public static let inputSize = 128
    public static let numKeypoints = 6
    public static let numAnchors = 896

    /// MediaPipe SsdAnchorsCalculator for BlazeFace short range: (x, y) anchor centres in [0, 1].
    public static func ssdAnchors(inputSize: Int = 128, strides: [Int] = [8, 16, 16, 16],
                                  anchorOffset: Double = 0.5) -> [(Float, Float)] {
        var out: [(Float, Float)] = []
        var i = 0
        while i < strides.count {
            var j = i, n = 0
            while j < strides.count && strides[j] == strides[i] { n += 2; j += 1 }
            let fm = Int((Double(inputSize) / Double(strides[i])).rounded(.up))
            for y in 0..<fm {
                for x in 0..<fm {
                    let c = (Float((Double(x) + anchorOffset) / Double(fm)), Float((Double(y) + anchorOffset) / Double(fm)))
                    out.append(contentsOf: repeatElement(c, count: n))
                }
            }
            i = j
        }
        return out
    }

    public static let anchors = ssdAnchors()

    /// Letterbox (keep aspect, centred, zero padding) of the whole frame into size x size:
    /// the affine frame -> tensor px and the padded square (x0, y0, side) in frame pixels.
    public static func letterbox(width: Int, height: Int, size: Int = inputSize) -> (Affine2D, Double, Double, Double) {
        let side = Double(max(width, height))
        let x0 = Double(width) / 2 - side / 2, y0 = Double(height) / 2 - side / 2
        let s = Double(size) / side
        return (Affine2D([s, 0, -x0 * s, 0, s, -y0 * s]), x0, y0, side)
    }

    /// The detector's input image (128x128 RGB, letterboxed, zero border). The float tensor is
    /// pixel * 2/255 - 1 (`detectorTensor`).
    public static func letterboxImage(_ frame: RGBImage) throws -> (RGBImage, (Double, Double, Double)) {
        let (m, x0, y0, side) = letterbox(width: frame.width, height: frame.height)
        let img = try warpAffine(frame, m, width: inputSize, height: inputSize, border: .zero)
        return (img, (x0, y0, side))
    }

    public static func detectorTensor(_ img: RGBImage) -> [Float] {
        img.pixels.map { Float($0) * (2.0 / 255.0) - 1.0 }
    }

    static func sigmoid(_ logit: Double) -> Double {
        1.0 / (1.0 + exp(-min(max(logit, -100), 100)))
    }
}
