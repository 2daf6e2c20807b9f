import Foundation

extension BlazeFace {
    /// Raw outputs -> detections in frame pixels, best first (`BlazeFaceDetector.detect` after
    /// `raw`). regressors: 896 x 16 (box dx, dy, w, h, then 6 keypoints), logits: 896.
    public static func decode(regressors: [Float], logits: [Float], letterbox: (Double, Double, Double),
                              minScore: Double, iouThreshold: Double = 0.3, maxFaces: Int? = nil,
                              options: DetectorOptions = .shortRange) throws -> [Detection] {
        let n = options.numAnchors, anchors = options.anchors
        guard regressors.count == n * 16, logits.count == n else {
            throw LrdifError.runtime("\(options.name)-range detector outputs must be \(n)x16 regressors and \(n) logits, "
                                     + "got \(regressors.count) and \(logits.count) values")
        }
        var boxes: [[Double]] = [], kps: [[Double]] = [], scores: [Double] = []
        let size = Double(options.inputSize)
        for i in 0..<n {
            let score = sigmoid(Double(logits[i]))
            guard score >= minScore else { continue }
            let r = (0..<16).map { Double(regressors[i * 16 + $0]) / size }
            let ax = Double(anchors[i].0), ay = Double(anchors[i].1)
            let cx = r[0] + ax, cy = r[1] + ay
            boxes.append([cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2])
            var kp = [Double](repeating: 0, count: 2 * numKeypoints)
            for j in 0..<numKeypoints {
                kp[2 * j] = r[4 + 2 * j] + ax
                kp[2 * j + 1] = r[5 + 2 * j] + ay
            }
            kps.append(kp)
            scores.append(score)
        }
        let (x0, y0, side) = letterbox
        var out: [Detection] = []
        for (box, kp, sc) in weightedNMS(boxes: boxes, keypoints: kps, scores: scores, iouThreshold: iouThreshold) {
            let b = [box[0] * side + x0, box[1] * side + y0, box[2] * side + x0, box[3] * side + y0]
            let k = kp.enumerated().map { Float($0.element * side + ($0.offset % 2 == 0 ? x0 : y0)) }
            out.append(Detection(box: [Float(b[0]), Float(b[1]), Float(b[2] - b[0]), Float(b[3] - b[1])],
                                 score: Float(sc), keypoints: k, source: options.name))
        }
        if let m = maxFaces { out = Array(out.prefix(m)) }
        return out
    }

    /// IoU of two (xmin, ymin, xmax, ymax) boxes.
    static func iou(_ a: [Double], _ b: [Double]) -> Double {
        let iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0), ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0)
        let inter = iw * ih
        let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return union > 0 ? inter / max(union, 1e-12) : 0
    }

    /// MediaPipe WEIGHTED non-max suppression: take the best remaining detection, blend every
    /// remaining one with IoU > threshold (itself included) weighted by score; keep the best score.
    public static func weightedNMS(boxes: [[Double]], keypoints: [[Double]], scores: [Double],
                                   iouThreshold: Double) -> [([Double], [Double], Double)] {
        // stable sort by descending score (numpy argsort(-scores, kind="stable"))
        var order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var out: [([Double], [Double], Double)] = []
        while let top = order.first {
            var cand = order.filter { iou(boxes[top], boxes[$0]) > iouThreshold }
            var rest = order.filter { !(iou(boxes[top], boxes[$0]) > iouThreshold) }
            if cand.isEmpty { cand = [top]; rest = Array(order.dropFirst()) }
            let total = cand.reduce(0.0) { $0 + scores[$1] }
            let box = (0..<4).map { j in cand.reduce(0.0) { $0 + boxes[$1][j] * scores[$1] } / total }
            let kp = (0..<keypoints[top].count).map { j in cand.reduce(0.0) { $0 + keypoints[$1][j] * scores[$1] } / total }
            out.append((box, kp, scores[top]))
            if rest.count == order.count { break }
            order = rest
        }
        return out
    }
}
