import Foundation

/// One face detection in frame pixels (MediaPipe convention: pixel = normalised * frame size).
public struct Detection: Equatable {
    public var box: [Float]          // x, y, w, h
    public var score: Float
    public var keypoints: [Float]    // 6 x (x, y): right eye, left eye, nose tip, mouth, right/left ear tragion
    public var source = "short"      // the detector that found it: "short" | "full"
}

/// One BlazeFace variant as MediaPipe's graph configures it (`lrdif.sdk.face.detector.DetectorOptions`).
public struct DetectorOptions: Equatable {
    public let name: String              // "short" | "full"
    public let inputSize: Int            // square input, also the coordinate scale
    public let strides: [Int]
    public let interpolatedAnchor: Bool  // a second anchor per cell
    public let minScore: Double          // the graph's own threshold
    public let anchors: [(Float, Float)]

    init(name: String, inputSize: Int, strides: [Int], interpolatedAnchor: Bool, minScore: Double) {
        self.name = name; self.inputSize = inputSize; self.strides = strides
        self.interpolatedAnchor = interpolatedAnchor; self.minScore = minScore
        anchors = BlazeFace.ssdAnchors(inputSize: inputSize, strides: strides, interpolatedAnchor: interpolatedAnchor)
    }

    public var numAnchors: Int { anchors.count }

    /// face_detection_short_range.tflite: 128 px, strides 8, 16, 16, 16, 896 anchors.
    public static let shortRange = DetectorOptions(name: "short", inputSize: 128, strides: [8, 16, 16, 16],
                                                   interpolatedAnchor: true, minScore: 0.5)
    /// face_detection_full_range_sparse.tflite: 192 px, stride 4, 2304 anchors, scores >= 0.6.
    public static let fullRange = DetectorOptions(name: "full", inputSize: 192, strides: [4],
                                                  interpolatedAnchor: false, minScore: 0.6)

    public static func == (a: DetectorOptions, b: DetectorOptions) -> Bool { a.name == b.name }
}

/// BlazeFace short-range post-processing (`lrdif.sdk.face.detector`): SSD anchors, box and
/// keypoint decoding, sigmoid (logits clipped to +-100), weighted NMS, letterbox removal.
public enum BlazeFace {
    public static let inputSize = 128
    public static let numKeypoints = 6
    public static let numAnchors = 896

    /// MediaPipe SsdAnchorsCalculator for BlazeFace short range: (x, y) anchor centres in [0, 1].
    public static func ssdAnchors(inputSize: Int = 128, strides: [Int] = [8, 16, 16, 16],
                                  anchorOffset: Double = 0.5, interpolatedAnchor: Bool = true) -> [(Float, Float)] {
        var out: [(Float, Float)] = []
        var i = 0
        while i < strides.count {
            var j = i, n = 0
            while j < strides.count && strides[j] == strides[i] { n += interpolatedAnchor ? 2 : 1; j += 1 }
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

    public static var anchors: [(Float, Float)] { DetectorOptions.shortRange.anchors }

    /// Letterbox (keep aspect, centred, zero padding) of the whole frame into size x size:
    /// the affine frame -> tensor px and the padded square (x0, y0, side) in frame pixels.
    public static func letterbox(width: Int, height: Int, size: Int = inputSize) -> (Affine2D, Double, Double, Double) {
        let side = Double(max(width, height))
        let x0 = Double(width) / 2 - side / 2, y0 = Double(height) / 2 - side / 2
        let s = Double(size) / side
        return (Affine2D([s, 0, -x0 * s, 0, s, -y0 * s]), x0, y0, side)
    }

    /// The detector's input image (size x size RGB, letterboxed, zero border). The float tensor is
    /// pixel * 2/255 - 1 (`detectorTensor`).
    public static func letterboxImage(_ frame: RGBImage, size: Int = inputSize) throws -> (RGBImage, (Double, Double, Double)) {
        let (m, x0, y0, side) = letterbox(width: frame.width, height: frame.height, size: size)
        let img = try warpAffine(frame, m, width: size, height: size, border: .zero)
        return (img, (x0, y0, side))
    }

    public static func detectorTensor(_ img: RGBImage) -> [Float] {
        img.pixels.map { Float($0) * (2.0 / 255.0) - 1.0 }
    }

    static func sigmoid(_ logit: Double) -> Double {
        1.0 / (1.0 + exp(-min(max(logit, -100), 100)))
    }
}
