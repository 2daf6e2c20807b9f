import CoreML
import Foundation
import LrdifCore

/// The lrdif emotion model exported by `lrdif-export --target coreml [--int8]`, run by CoreML.
/// Xcode compiles each bundled .mlpackage to an .mlmodelc; its lrdif metadata is the spec's
/// user-defined metadata (MLModelMetadataKey.creatorDefinedKey), the same record LrdifCore
/// reads from the .mlpackage on Linux.
final class EmotionModelCoreML {
    enum Variant: String, CaseIterable, Identifiable {
        case fp32 = "lrdif-mobile-fp32", int8 = "lrdif-mobile-int8"
        var id: String { rawValue }
        var title: String { self == .fp32 ? "fp32" : "int8 weights" }
    }

    let metadata: ModelMetadata
    private let model: MLModel

    init(_ variant: Variant, computeUnits: MLComputeUnits = .all) throws {
        guard let url = Bundle.main.url(forResource: variant.rawValue, withExtension: "mlmodelc") else {
            throw LrdifError.badModelFile("\(variant.rawValue).mlpackage is not in the app bundle: run ios_demo/App/copy-models.sh")
        }
        let config = MLModelConfiguration()
        config.computeUnits = computeUnits
        model = try MLModel(contentsOf: url, configuration: config)
        let user = model.modelDescription.metadata[MLModelMetadataKey.creatorDefinedKey] as? [String: String] ?? [:]
        guard let json = user[ModelMetadata.key] else {
            throw LrdifError.metadata("\(variant.rawValue): no '\(ModelMetadata.key)' in the CoreML user-defined metadata: "
                                      + "not an lrdif export (or exported without metadata)")
        }
        let md = try ModelMetadata.fromJSON(json)
        guard md.target.isEmpty || md.target == "coreml" else {
            throw LrdifError.metadata("\(variant.rawValue): metadata says target '\(md.target)' but the file is coreml")
        }
        metadata = md
    }

    /// image (metadata layout, `shape`) + landmarks (B, 468, 2) -> (B, K) logits.
    func logits(image: [Float], shape: [Int], landmarks: [Float]) throws -> [Float] {
        let batch = shape[0]
        let img = try multiArray(image, shape: shape)
        let lm = try multiArray(landmarks, shape: [batch, metadata.numLandmarks, 2])
        let inputs = try MLDictionaryFeatureProvider(dictionary: [
            metadata.inputNames[0]: MLFeatureValue(multiArray: img),
            metadata.inputNames[1]: MLFeatureValue(multiArray: lm)])
        let out = try model.prediction(from: inputs)
        guard let logits = out.featureValue(for: metadata.outputNames[1])?.multiArrayValue else {
            throw LrdifError.runtime("the CoreML model has no '\(metadata.outputNames[1])' output")
        }
        return (0..<logits.count).map { logits[$0].floatValue }   // fp32 or fp16 outputs
    }

    private func multiArray(_ values: [Float], shape: [Int]) throws -> MLMultiArray {
        let a = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        let p = a.dataPointer.bindMemory(to: Float32.self, capacity: values.count)
        values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: values.count) }
        return a
    }
}
