import Foundation

/// VIDEO-mode face tracks, exactly as `EmotionRecognizer._video_step` in the SDK.
final class Track {
    let faceId: Int
    var face: Face
    var probs: [Float]?

    init(faceId: Int, face: Face) {
        self.faceId = faceId
        self.face = face
    }
}

struct Tracker {
    var tracks: [Track] = []
    var nextId = 0
    var frameIndex = 0

    static func inside(_ p: (Float, Float), _ box: [Float]) -> Bool {
        box[0] <= p.0 && p.0 <= box[0] + box[2] && box[1] <= p.1 && p.1 <= box[1] + box[3]
    }

    static func centre(_ box: [Float]) -> (Float, Float) { (box[0] + box[2] / 2, box[1] + box[3] / 2) }

    static func iou(_ a: [Float], _ b: [Float]) -> Double {
        let a = a.map(Double.init), b = b.map(Double.init)
        let ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
        let iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
        let union = a[2] * a[3] + b[2] * b[3] - ix * iy
        return union > 0 ? ix * iy / union : 0
    }

    /// Track faces from the previous landmarks; re-detect when a track is lost, when none is
    /// tracked, or every `redetectInterval` frames (new faces get new ids; a detection where a
    /// track was just lost takes over that track's id). Returns the tracks of this frame in order.
    mutating func step(_ frame: RGBImage, frontEnd fe: FaceFrontEnd, options o: RecognizerOptions) throws -> [Track] {
        var kept: [Track] = [], lost: [Track] = []
        for t in tracks {
            guard let face = try fe.track(frame, previous: t.face), o.keepUncertainFaces || face.quality != "uncertain" else {
                lost.append(t)
                continue
            }
            // two tracks that converged on one face: keep the older
            if kept.contains(where: { Self.iou(face.box, $0.face.box) > 0.5 }) { continue }
            t.face = face
            kept.append(t)
        }
        let periodic = frameIndex % o.redetectInterval == 0
        if kept.count < o.maxFaces && (!lost.isEmpty || kept.isEmpty || periodic) {
            for face in try fe.process(frame, maxFaces: o.maxFaces) where o.keepUncertainFaces || face.quality != "uncertain" {
                if kept.count >= o.maxFaces { break }
                let c = Self.centre(face.box)
                if kept.contains(where: { Self.inside(c, $0.face.box) }) { continue }   // already tracked
                if let i = lost.firstIndex(where: { Self.inside(c, $0.face.box) }) {
                    let again = lost.remove(at: i)
                    again.face = face
                    kept.append(again)
                } else {
                    kept.append(Track(faceId: nextId, face: face))
                    nextId += 1
                }
            }
        }
        frameIndex += 1
        tracks = kept
        return kept
    }
}
