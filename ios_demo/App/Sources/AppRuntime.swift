import Foundation
import LrdifCore

/// LrdifCore's runtime protocol on the device: LiteRT for the face models, CoreML for the emotion
/// model. Accumulates the time spent in each model for the on-screen readout.
final class AppRuntime: LrdifRuntime {
    let faces: FaceModelsLiteRT
    let emotionModel: EmotionModelCoreML
    private(set) var faceSeconds = 0.0
    private(set) var emotionSeconds = 0.0

    init(faces: FaceModelsLiteRT, emotion: EmotionModelCoreML) {
        self.faces = faces
        emotionModel = emotion
    }

    func resetTimers() {
        faceSeconds = 0
        emotionSeconds = 0
    }

    private func timed<T>(_ slot: ReferenceWritableKeyPath<AppRuntime, Double>, _ body: () throws -> T) rethrows -> T {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { self[keyPath: slot] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 }
        return try body()
    }

    func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float]) {
        let (r, l) = try timed(\.faceSeconds) { try faces.detect(input, detector) }
        return (r, l)
    }

    func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float) {
        let (p, f) = try timed(\.faceSeconds) { try faces.landmarks(input) }
        return (p, f)
    }

    func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float] {
        try timed(\.emotionSeconds) { try emotionModel.logits(image: image, shape: imageShape, landmarks: landmarks) }
    }
}
