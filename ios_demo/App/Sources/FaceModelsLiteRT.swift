import Foundation
import LrdifCore
import TensorFlowLite

/// The MediaPipe face models on LiteRT: BlazeFace short range and full range (sparse), FaceMesh 468
/// — the same files and landmark scheme the lrdif SDK and training use (mediapipe 0.10.21's models).
final class FaceModelsLiteRT {
    /// One BlazeFace interpreter with its regressor / score output indices (found by shape).
    private struct Detector {
        let interpreter: Interpreter
        let regressors: Int, scores: Int
    }

    private let short: Detector
    private let full: Detector?        // optional: auto mode needs it only for small / no faces
    private let landmarker: Interpreter
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
        short = try Self.detector("face_detection_short_range", .shortRange, options)
        full = try? Self.detector("face_detection_full_range_sparse", .fullRange, options)
        landmarker = try Self.interpreter("face_landmark", options)
        let outs = try (0..<landmarker.outputTensorCount).map { try landmarker.output(at: $0) }
        guard let p = outs.firstIndex(where: { $0.shape.dimensions.reduce(1, *) == 468 * 3 }),
              let f = outs.firstIndex(where: { $0.shape.dimensions.reduce(1, *) == 1 }) else {
            throw Failure.layout("face_landmark.tflite has no 468 x 3 landmark output (not the FaceMesh 468 model)")
        }
        pointsIndex = p; presenceIndex = f
    }

    var hasFullRange: Bool { full != nil }

    private static func interpreter(_ name: String, _ options: Interpreter.Options) throws -> Interpreter {
        guard let path = Bundle.main.path(forResource: name, ofType: "tflite") else { throw Failure.missing("\(name).tflite") }
        let it = try Interpreter(modelPath: path, options: options)
        try it.allocateTensors()
        return it
    }

    private static func detector(_ name: String, _ o: DetectorOptions, _ options: Interpreter.Options) throws -> Detector {
        let it = try interpreter(name, options)
        let outs = try (0..<it.outputTensorCount).map { try it.output(at: $0).shape.dimensions }
        guard let r = outs.firstIndex(of: [1, o.numAnchors, 16]), let s = outs.firstIndex(of: [1, o.numAnchors, 1]) else {
            throw Failure.layout("\(name).tflite: outputs \(outs), expected [1, \(o.numAnchors), 16] and [1, \(o.numAnchors), 1]")
        }
        return Detector(interpreter: it, regressors: r, scores: s)
    }

    /// size x size x 3 floats in [-1, 1] -> N x 16 regressors, N logits.
    func detect(_ input: [Float], _ o: DetectorOptions) throws -> ([Float], [Float]) {
        guard let d = o == .fullRange ? full : short else { throw Failure.missing("face_detection_full_range_sparse.tflite") }
        try d.interpreter.copy(input.withUnsafeBufferPointer { Data(buffer: $0) }, toInputAt: 0)
        try d.interpreter.invoke()
        return (try floats(d.interpreter.output(at: d.regressors)), try floats(d.interpreter.output(at: d.scores)))
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
