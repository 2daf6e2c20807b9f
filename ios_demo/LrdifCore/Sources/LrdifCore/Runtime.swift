import Foundation

/// The three model calls of the pipeline. The app implements it with LiteRT (face models) and
/// CoreML (emotion model); the tests with a replay of the SDK's recorded calls.
public protocol LrdifRuntime: AnyObject {
    /// BlazeFace `detector` (short range: 128 x 128 x 3, full range: 192 x 192 x 3) float NHWC in
    /// [-1, 1] (`BlazeFace.detectorTensor`) -> N x 16 regressors and N score logits
    /// (N = `detector.numAnchors`: 896 short range, 2304 full range).
    func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float])

    /// FaceMesh: 192 x 192 x 3 float NHWC in [0, 1] -> 468 x 3 landmarks (crop px) and the
    /// face-presence logit.
    func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float)

    /// Emotion model: `image` of shape `imageShape` (metadata layout), `landmarks` (B, 468, 2)
    /// crop-normalised -> (B, K) logits.
    func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float]
}

/// Thresholds of the front-end and the recognizer (the SDK's EmotionRecognizerOptions defaults).
public struct RecognizerOptions: Equatable {
    public var maxFaces = 4
    public var minDetectionConfidence = 0.5
    public var minPresenceConfidence = 0.5
    /// Video EMA: smoothed = smoothing * previous + (1 - smoothing) * current, per track.
    public var smoothing = 0.6
    /// Video: run the detector every this many frames (and whenever a track is lost / none tracked).
    public var redetectInterval = 10
    /// Which detector(s) find faces; `.auto` needs the full-range model only for small / no faces.
    public var faceDetector = FaceDetectorMode.auto
    /// Box sanity; nil = accept FaceMesh's first landmarks.
    public var agreement: RoiAgreement? = RoiAgreement()
    /// Also return faces whose landmarks never agreed with their box (quality "uncertain").
    public var keepUncertainFaces = false

    public init() {}

    public func validate() throws {
        guard maxFaces >= 1 else { throw LrdifError.invalidInput("maxFaces must be a positive int, got \(maxFaces)") }
        for (n, v) in [("minDetectionConfidence", minDetectionConfidence), ("minPresenceConfidence", minPresenceConfidence)]
        where !(0...1).contains(v) {
            throw LrdifError.invalidInput("\(n) must be in [0, 1], got \(v)")
        }
        guard (0..<1).contains(smoothing) else { throw LrdifError.invalidInput("smoothing must be in [0, 1), got \(smoothing)") }
        guard redetectInterval >= 1 else {
            throw LrdifError.invalidInput("redetectInterval must be a positive int, got \(redetectInterval)")
        }
    }
}
