import Foundation

/// Emotion-model input and output handling from the metadata (`lrdif.sdk.backends.base`).
public enum EmotionIO {
    /// (B, S, S, 3) uint8 RGB crops -> float32 model input: (pixel/255 - mean)/std, in the
    /// metadata's colour order and layout (NCHW: (B, 3, S, S); NHWC: (B, S, S, 3)).
    public static func preprocess(_ crops: [RGBImage], metadata md: ModelMetadata) throws -> [Float] {
        let s = md.inputSize
        let std = md.std.map { Float($0) }, mean = md.mean.map { Float($0) }
        let scale = std.map { 1.0 / (255.0 * $0) }
        let offset = (0..<3).map { -mean[$0] / std[$0] }
        let plane = s * s
        var out = [Float](repeating: 0, count: crops.count * 3 * plane)
        for (b, crop) in crops.enumerated() {
            guard crop.width == s, crop.height == s else {
                throw LrdifError.invalidInput("crops must be \(s)x\(s) RGB, got \(crop.width)x\(crop.height)")
            }
            for i in 0..<plane {
                for c in 0..<3 {
                    let src = md.colourOrder == "BGR" ? 2 - c : c
                    let v = Float(crop.pixels[i * 3 + src]) * scale[c] + offset[c]
                    let dst = md.inputLayout == "NCHW" ? (b * 3 + c) * plane + i : (b * plane + i) * 3 + c
                    out[dst] = v
                }
            }
        }
        return out
    }

    /// The input's shape for `count` faces.
    public static func imageShape(count: Int, metadata md: ModelMetadata) -> [Int] {
        md.inputLayout == "NCHW" ? [count, 3, md.inputSize, md.inputSize] : [count, md.inputSize, md.inputSize, 3]
    }

    /// Probabilities = softmax(logits / temperature) per row, in double, returned as float.
    public static func softmax(_ logits: [Float], classes k: Int, temperature: Double = 1.0) -> [Float] {
        precondition(k > 0 && logits.count % k == 0)
        var out = [Float]()
        out.reserveCapacity(logits.count)
        for row in stride(from: 0, to: logits.count, by: k) {
            let z = logits[row..<(row + k)].map { Double($0) / temperature }
            let m = z.max() ?? 0
            let e = z.map { exp($0 - m) }
            let total = e.reduce(0, +)
            out.append(contentsOf: e.map { Float($0 / total) })
        }
        return out
    }

    /// numpy's float32 sum of a short row (pairwise blocks of 8), for bit-faithful renormalising.
    static func numpySum(_ v: [Float]) -> Float {
        if v.count < 8 { return v.reduce(0, +) }
        var r = Array(v[0..<8])
        var i = 8
        while i + 8 <= v.count {
            for j in 0..<8 { r[j] += v[i + j] }
            i += 8
        }
        var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < v.count { res += v[i]; i += 1 }
        return res
    }

    public static func argmax(_ v: [Float]) -> Int {
        var best = 0
        for i in v.indices where v[i] > v[best] { best = i }
        return best
    }
}
