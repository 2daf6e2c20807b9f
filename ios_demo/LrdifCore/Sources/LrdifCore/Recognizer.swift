import Foundation

/// One face's result (`lrdif.sdk.results.EmotionResult`).
public struct EmotionResult {
    public var face: Face
    public var probabilities: [Float]   // metadata label order; smoothed per track in video mode
    public var label: String
    public var confidence: Float
    public var faceId: Int?             // video mode track id; nil in image mode
    public var box: [Float] { face.box }
    /// "good" | "refined" | "uncertain" (kept only with `keepUncertainFaces`).
    public var quality: String { face.quality }
}

/// Faces -> expression probabilities, IMAGE and VIDEO modes (`lrdif.sdk.EmotionRecognizer`).
public final class EmotionRecognizer {
    public let metadata: ModelMetadata
    public let options: RecognizerOptions
    public let frontEnd: FaceFrontEnd
    var tracker = Tracker()
    var lastTimestamp: Int?

    public init(runtime: LrdifRuntime, metadata: ModelMetadata, options: RecognizerOptions = RecognizerOptions()) throws {
        try metadata.validate()
        self.metadata = metadata
        self.options = options
        frontEnd = try FaceFrontEnd(runtime: runtime, cropSpec: metadata.crop, options: options)
    }

    /// IMAGE mode: every face of a still frame, best detection first.
    public func predict(_ frame: RGBImage) throws -> [EmotionResult] {
        let faces = try frontEnd.process(frame, maxFaces: options.maxFaces)
            .filter { options.keepUncertainFaces || $0.quality != "uncertain" }
        let probs = try classify(faces)
        return faces.indices.map { result(faces[$0], probs[$0], nil) }
    }

    /// VIDEO mode: faces tracked from frame to frame (stable ids), probabilities smoothed per
    /// track. `timestampMs` must increase strictly.
    public func predictForVideo(_ frame: RGBImage, timestampMs: Int) throws -> [EmotionResult] {
        if let last = lastTimestamp, timestampMs <= last {
            throw LrdifError.invalidInput("timestamp_ms must increase monotonically: got \(timestampMs) after \(last)")
        }
        lastTimestamp = timestampMs
        let kept = try tracker.step(frame, frontEnd: frontEnd, options: options)
        let probs = try classify(kept.map(\.face))
        let a = Float(options.smoothing), b = Float(1.0 - options.smoothing)
        var out: [EmotionResult] = []
        for (t, current) in zip(kept, probs) {
            var p = current
            if let prev = t.probs, options.smoothing > 0 {
                p = zip(prev, current).map { a * $0 + b * $1 }
                let total = EmotionIO.numpySum(p)
                p = p.map { $0 / total }
            }
            t.probs = p
            out.append(result(t.face, p, t.faceId))
        }
        return out
    }

    /// Forget the tracks (a new video or camera session).
    public func reset() {
        tracker = Tracker()
        lastTimestamp = nil
    }

    /// One emotion-model call for all faces (fixed-batch models: chunks, the last one padded)
    /// -> per face softmax(logits / temperature).
    func classify(_ faces: [Face]) throws -> [[Float]] {
        guard !faces.isEmpty else { return [] }
        let k = metadata.numClasses, step = metadata.batch > 0 ? metadata.batch : faces.count
        var logits: [Float] = []
        for start in stride(from: 0, to: faces.count, by: step) {
            var chunk = Array(faces[start..<min(start + step, faces.count)])
            let real = chunk.count
            while chunk.count < step { chunk.append(chunk[real - 1]) }
            let image = try EmotionIO.preprocess(chunk.map(\.crop), metadata: metadata)
            let out = try frontEnd.runtime.emotion(image: image, imageShape: EmotionIO.imageShape(count: chunk.count, metadata: metadata),
                                                   landmarks: chunk.flatMap(\.cropLandmarks))
            guard out.count == chunk.count * k else {
                throw LrdifError.runtime("emotion model returned \(out.count) logits for \(chunk.count) faces x \(k) classes")
            }
            guard out.allSatisfy(\.isFinite) else { throw LrdifError.runtime("the emotion model produced NaN/inf outputs") }
            logits += out[0..<(real * k)]
        }
        let probs = EmotionIO.softmax(logits, classes: k, temperature: metadata.temperature)
        return (0..<faces.count).map { Array(probs[($0 * k)..<(($0 + 1) * k)]) }
    }

    func result(_ face: Face, _ probs: [Float], _ id: Int?) -> EmotionResult {
        let i = EmotionIO.argmax(probs)
        return EmotionResult(face: face, probabilities: probs, label: metadata.labels[i], confidence: probs[i], faceId: id)
    }
}
