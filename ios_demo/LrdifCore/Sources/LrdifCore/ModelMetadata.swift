import Foundation

/// The lrdif label orders (FER+ vote-column order); 7-class models use the first seven.
public enum Labels {
    public static let eight = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]
    public static let seven = Array(eight.prefix(7))
}

/// How the emotion-model crop is cut from 468 FaceMesh landmarks (`lrdif.sdk.metadata.CropSpec`).
public struct CropSpec: Equatable, Codable {
    public var rule = "facemesh-eye-aligned-square"
    public var size = 64
    public var scale = 1.12
    public var shiftY = -0.05

    enum CodingKeys: String, CodingKey {
        case rule, size, scale
        case shiftY = "shift_y"
    }

    public init(rule: String = "facemesh-eye-aligned-square", size: Int = 64, scale: Double = 1.12,
                shiftY: Double = -0.05) {
        self.rule = rule; self.size = size; self.scale = scale; self.shiftY = shiftY
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(["rule", "size", "scale", "shift_y"])
        let unknown = c.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw LrdifError.metadata("malformed metadata: CropSpec got unexpected fields \(unknown)")
        }
        rule = try c.decodeIfPresent(String.self, forKey: AnyKey("rule")) ?? rule
        size = try c.decodeIfPresent(Int.self, forKey: AnyKey("size")) ?? size
        scale = try c.decodeIfPresent(Double.self, forKey: AnyKey("scale")) ?? scale
        shiftY = try c.decodeIfPresent(Double.self, forKey: AnyKey("shift_y")) ?? shiftY
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Everything a runtime needs to feed the emotion model and read its outputs
/// (`lrdif.sdk.metadata.ModelMetadata`, schema "lrdif.model/1", JSON under key `lrdif_metadata`).
public struct ModelMetadata: Equatable {
    public static let schemaName = "lrdif.model/1"
    public static let key = "lrdif_metadata"

    public var labels = Labels.eight
    public var inputSize = 64
    public var inputLayout = "NCHW"
    public var colourOrder = "RGB"
    public var mean = [0.5, 0.5, 0.5]
    public var std = [0.5, 0.5, 0.5]
    public var crop = CropSpec()
    public var landmarkScheme = "mediapipe-facemesh-468"
    public var landmarkSpace = "crop-normalised-xy"
    public var numLandmarks = 468
    public var diffusionSteps = 4
    /// Calibration: probabilities = softmax(logits / temperature).
    public var temperature = 1.0
    public var quantisation = "none"
    public var batch = 0
    public var inputNames = ["image", "landmarks"]
    public var outputNames = ["probabilities", "logits"]
    public var modelName = "lrdif-mobile"
    public var modelVersion = "0.1.0"
    public var preset = "mobile"
    public var licence = "Research use only (weights trained on FER2013/FER+ images)"
    public var trainingData = "FERPlus train split, clean + simulated UDC + low-light"
    public var weightsSha256 = ""
    public var target = ""
    public var schema = ModelMetadata.schemaName

    public init() {}

    public var numClasses: Int { labels.count }
}
