import Foundation

/// One face: detection, 468 landmarks and the emotion crop (`lrdif.sdk.face.Face`).
public struct Face {
    public var box: [Float]            // x, y, w, h (tracked faces: the landmark bbox)
    public var score: Float            // detector score (tracked faces: the track's first detection)
    public var keypoints: [Float]      // 6 x (x, y)
    public var landmarks: [Float]      // 468 x (x, y, z) frame px
    public var presence: Double
    public var crop: RGBImage          // S x S emotion-model crop
    public var cropLandmarks: [Float]  // 468 x (x, y) in [0, 1]
    public var affine: Affine2D        // frame px index -> crop px index
    public var quality = "good"        // "good" | "refined" | "uncertain" (box sanity)
    public var source = ""             // "short" | "full" | "track": where the ROI came from
}

/// Detector -> FaceMesh -> emotion crop (`lrdif.sdk.face.FaceFrontEnd`).
public final class FaceFrontEnd {
    public let runtime: LrdifRuntime
    public let cropSpec: CropSpec
    public let options: RecognizerOptions
    /// Called with every FaceMesh ROI before the landmark model runs (debug overlays, replay checks).
    public var roiObserver: ((Roi) -> Void)?
    /// Called with the decoded detections of every detector call.
    public var detectionObserver: (([Detection]) -> Void)?

    // FaceMesh indices standing in for BlazeFace's 6 keypoints on tracked faces
    static let keypointLandmarks = [[33, 133], [362, 263], [1], [13, 14], [234], [454]]

    public init(runtime: LrdifRuntime, cropSpec: CropSpec, options: RecognizerOptions = RecognizerOptions()) throws {
        try EmotionCrop.check(cropSpec)
        try options.validate()
        self.runtime = runtime
        self.cropSpec = cropSpec
        self.options = options
    }

    /// Detections of one detector, best first; full range keeps only scores >= its graph's 0.6.
    public func detect(_ frame: RGBImage, with det: DetectorOptions, maxFaces: Int?) throws -> [Detection] {
        let (img, box) = try BlazeFace.letterboxImage(frame, size: det.inputSize)
        let out = try runtime.detect(BlazeFace.detectorTensor(img), detector: det)
        let minScore = det == .fullRange ? max(options.minDetectionConfidence, det.minScore) : options.minDetectionConfidence
        let dets = try BlazeFace.decode(regressors: out.regressors, logits: out.logits, letterbox: box,
                                        minScore: minScore, maxFaces: maxFaces, options: det)
        detectionObserver?(dets)
        return dets
    }

    /// Face detections by the configured detector(s) (`FaceFrontEnd.detect`), best first.
    public func detect(_ frame: RGBImage, maxFaces: Int?) throws -> [Detection] {
        if options.faceDetector == .full { return try detect(frame, with: .fullRange, maxFaces: maxFaces) }
        let short = try detect(frame, with: .shortRange, maxFaces: maxFaces)
        if options.faceDetector == .short { return short }
        let longSide = Double(max(frame.width, frame.height))
        if !short.isEmpty && short.allSatisfy({ Double($0.box[2]) >= DetectionMerge.autoFullBelow * longSide }) {
            return short                                   // selfie distance: short range only
        }
        let full = try detect(frame, with: .fullRange, maxFaces: nil)
        let merged = DetectionMerge.merge(short: short, full: full, longSide: longSide)
        return maxFaces.map { Array(merged.prefix($0)) } ?? merged
    }

    /// FaceMesh on a ROI: (468 x 3 frame px, presence probability).
    public func landmarks(_ frame: RGBImage, roi: Roi) throws -> ([Float], Double) {
        roiObserver?(roi)
        let crop = try FaceMesh.cropImage(frame, roi: roi)
        let out = try runtime.landmarks(FaceMesh.landmarkTensor(crop))
        return (try FaceMesh.project(out.points, roi: roi), FaceMesh.presence(logit: out.presenceLogit))
    }

    static func keypoints(fromLandmarks lm: [Float]) -> [Float] {
        keypointLandmarks.flatMap { ix -> [Float] in
            let n = Float(ix.count)
            return [ix.reduce(Float(0)) { $0 + lm[3 * $1] } / n, ix.reduce(Float(0)) { $0 + lm[3 * $1 + 1] } / n]
        }
    }

    public func makeFace(_ frame: RGBImage, landmarks lm: [Float], presence: Double, box: [Float]? = nil,
                         score: Float = .nan, keypoints: [Float]? = nil) throws -> Face {
        let affine = try EmotionCrop.affine(landmarks: lm, spec: cropSpec)
        var b = box
        if b == nil {
            let xs = stride(from: 0, to: lm.count, by: 3).map { lm[$0] }, ys = stride(from: 1, to: lm.count, by: 3).map { lm[$0] }
            let x0 = xs.min()!, y0 = ys.min()!
            b = [x0, y0, xs.max()! - x0, ys.max()! - y0]
        }
        return Face(box: b!, score: score, keypoints: keypoints ?? Self.keypoints(fromLandmarks: lm), landmarks: lm,
                    presence: presence, crop: try EmotionCrop.warp(frame, affine: affine, size: cropSpec.size),
                    cropLandmarks: try EmotionCrop.cropLandmarks(lm, affine: affine, size: cropSpec.size), affine: affine)
    }

    /// FaceMesh on `roi`, then the box-sanity loop: (landmarks, presence, quality).
    public func checkedLandmarks(_ frame: RGBImage, roi start: Roi) throws -> ([Float], Double, String) {
        var roi = start
        var (lm, presence) = try landmarks(frame, roi: roi)
        guard let agreement = options.agreement, presence >= options.minPresenceConfidence else {
            return (lm, presence, "good")
        }
        var quality = "good"
        for i in 0...agreement.maxRefinements {
            let found = try FaceMesh.roi(fromLandmarks: lm)
            if agreement.agrees(used: roi, found: found) { return (lm, presence, quality) }
            if i == agreement.maxRefinements { break }
            roi = found                                    // MediaPipe's landmarks -> ROI loop
            quality = "refined"
            (lm, presence) = try landmarks(frame, roi: roi)
            if presence < options.minPresenceConfidence { break }
        }
        return (lm, presence, "uncertain")
    }

    /// Still image: detect, then landmarks per detection (best first, at most `maxFaces`).
    public func process(_ frame: RGBImage, maxFaces: Int) throws -> [Face] {
        var faces: [Face] = []
        for det in try detect(frame, maxFaces: maxFaces) {
            let (lm, presence, quality) = try checkedLandmarks(frame, roi: FaceMesh.roi(from: det))
            if presence < options.minPresenceConfidence { continue }
            // a refined face's detector box was wrong: report the landmarks' box instead
            var face = try makeFace(frame, landmarks: lm, presence: presence, box: quality == "good" ? det.box : nil,
                                    score: det.score, keypoints: det.keypoints)
            face.quality = quality
            face.source = det.source
            faces.append(face)
        }
        return faces
    }

    /// Video: landmarks from the previous face's landmark ROI; nil when the face is lost.
    public func track(_ frame: RGBImage, previous: Face) throws -> Face? {
        let (lm, presence, quality) = try checkedLandmarks(frame, roi: FaceMesh.roi(fromLandmarks: previous.landmarks))
        if presence < options.minPresenceConfidence { return nil }
        var face = try makeFace(frame, landmarks: lm, presence: presence, score: previous.score)
        face.quality = quality
        face.source = "track"
        return face
    }
}
