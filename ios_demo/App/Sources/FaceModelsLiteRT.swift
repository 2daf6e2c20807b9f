import Foundation
import TensorFlowLite

/// The two MediaPipe face models (BlazeFace short range, FaceMesh 468) on LiteRT, the same files
/// and landmark scheme the lrdif SDK and training use (mediapipe 0.10.21's bundled models).
final class FaceModelsLiteRT {
    private let detector: Interpreter
    private let landmarker: Interpreter
    private let regressorsIndex: Int, scoresIndex: Int
    private let pointsIndex: Int, presenceIndex: Int

    enum Failure: Error, CustomStringConvertible {
        case missing(String), layout(String)
        var description: String {
            switch self {
            case .missing(let n): return "\(n) is not in the app bundle: run ios_demo/App/copy-models.sh"
            case .layout(let m): return m
            }
        }
    }

    init(threads: Int = 2) throws {
        var options = Interpreter.Options()
        options.threadCount = threads
        detector = try Self.interpreter("face_detection_short_range", options)
        landmarker = try Self.interpreter("face_landmark", options)
        let det = try (0..<detector.outputTensorCount).map { try detector.output(at: $0) }
        guard let r = det.firstIndex(where: { $0.name == "regressors" }),
              let s = det.firstIndex(where: { $0.name == "classificators" }) else {
            throw Failure.layout("face_detection_short_range.tflite: outputs \(det.map(\.name)), expected regressors + classificators")
        }
        regressorsIndex = r; scoresIndex = s
        let lmk = try (0..<landmarker.outputTensorCount).map { try landmarker.output(at: $0) }
        guard let p = lmk.firstIndex(where: { $0.shape.dimensions.reduce(1, *) == 468 * 3 }),
              let f = lmk.firstIndex(where: { $0.shape.dimensions.reduce(1, *) == 1 }) else {
            throw Failure.layout("face_landmark.tflite has no 468 x 3 landmark output (not the FaceMesh 468 model)")
        }
        pointsIndex = p; presenceIndex = f
    }

    private static func interpreter(_ name: String, _ options: Interpreter.Options) throws -> Interpreter {
        guard let path = Bundle.main.path(forResource: name, ofType: "tflite") else { throw Failure.missing("\(name).tflite") }
        let it = try Interpreter(modelPath: path, options: options)
        try it.allocateTensors()
        return it
    }

    /// 128 x 128 x 3 floats in [-1, 1] -> 896 x 16 regressors, 896 logits.
    func detect(_ input: [Float]) throws -> ([Float], [Float]) {
        try detector.copy(input.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: 0)
        try detector.invoke()
        return (try floats(detector.output(at: regressorsIndex)), try floats(detector.output(at: scoresIndex)))
    }

    /// 192 x 192 x 3 floats in [0, 1] -> 468 x 3 crop-pixel landmarks, presence logit.
    func landmarks(_ input: [Float]) throws -> ([Float], Float) {
        try landmarker.copy(input.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: 0)
        try landmarker.invoke()
        return (try floats(landmarker.output(at: pointsIndex)), try floats(landmarker.output(at: presenceIndex))[0])
    }

    private func floats(_ t: Tensor) throws -> [Float] {
        guard t.dataType == .float32 else { throw Failure.layout("\(t.name): \(t.dataType) output, expected float32") }
        return t.data.withUnsafeBytes { Array($0.bindMemory(to: Float32.self)) }
    }
}
