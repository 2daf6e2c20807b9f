import Foundation

/// Which detector(s) find faces (the SDK's `face_detector`, without "tiled").
public enum FaceDetectorMode: String {
    /// Short range (selfie distance).
    case short
    /// Full range (faces up to ~5 m).
    case full
    /// Short range, plus full range when it finds no face or only small ones (the SDK's default).
    case auto
}

/// Box sanity (`lrdif.sdk.face.frontend.RoiAgreement`): FaceMesh's landmarks agree with the region
/// they were computed from when the landmark ROI is `minSizeRatio`...`maxSizeRatio` times that
/// region's side and its centre within `maxShift` sides; otherwise FaceMesh re-runs on the
/// landmark ROI, at most `maxRefinements` times.
public struct RoiAgreement: Equatable {
    public var minSizeRatio = 0.92
    public var maxSizeRatio = 1.3
    public var maxShift = 0.12
    public var maxRefinements = 2

    public init() {}

    public func agrees(used: Roi, found: Roi) -> Bool {
        let ratio = found.size / used.size
        let shift = hypot(found.cx - used.cx, found.cy - used.cy) / used.size
        return minSizeRatio <= ratio && ratio <= maxSizeRatio && shift <= maxShift
    }
}

/// Auto-mode detection merging (`merge_detections`, `AUTO_FULL_BELOW`).
public enum DetectionMerge {
    /// Auto mode also runs full range when a short-range face is narrower than this fraction of the
    /// frame's long side (or short range finds none).
    public static let autoFullBelow = 0.17

    static func iou(_ a: [Float], _ b: [Float]) -> Double { Tracker.iou(a, b) }

    /// Greedy: the best-scoring detection of each overlapping group.
    static func dedupe(_ dets: [Detection], iouThreshold: Double) -> [Detection] {
        var out: [Detection] = []
        for d in stableSortedByScore(dets) where out.allSatisfy({ iou(d.box, $0.box) <= iouThreshold }) {
            out.append(d)
        }
        return out
    }

    static func stableSortedByScore(_ dets: [Detection]) -> [Detection] {
        dets.enumerated().sorted { $0.element.score > $1.element.score
            || ($0.element.score == $1.element.score && $0.offset < $1.offset) }.map(\.element)
    }

    /// Full-range detections plus the short-range ones none of them overlaps; where both found a
    /// face, the short-range one is kept if it is large (>= small * longSide). Best score first.
    public static func merge(short: [Detection], full: [Detection], longSide: Double,
                             small: Double = autoFullBelow, iouThreshold: Double = 0.3) -> [Detection] {
        var out = dedupe(full, iouThreshold: iouThreshold)
        for d in short {
            if let j = out.firstIndex(where: { iou(d.box, $0.box) > iouThreshold }) {
                if Double(d.box[2]) >= small * longSide { out[j] = d }
            } else {
                out.append(d)
            }
        }
        return stableSortedByScore(out)
    }
}
