import Foundation

// JSON -> ModelMetadata with the SDK's checks and messages (ModelMetadata.from_json / validate).

extension ModelMetadata: Decodable {
    static let fieldNames: Set<String> = [
        "labels", "input_size", "input_layout", "colour_order", "mean", "std", "crop",
        "landmark_scheme", "landmark_space", "num_landmarks", "diffusion_steps", "temperature",
        "quantisation", "batch", "input_names", "output_names", "model_name", "model_version",
        "preset", "licence", "training_data", "weights_sha256", "target", "schema",
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let unknown = c.allKeys.map(\.stringValue).filter { !Self.fieldNames.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw LrdifError.metadata("unknown metadata fields: \(unknown)")
        }
        guard c.contains(AnyKey("schema")) else {
            throw LrdifError.metadata("metadata has no 'schema' field: not an lrdif model")
        }
        func get<T: Decodable>(_ key: String, _ fallback: T) throws -> T {
            do {
                return try c.decodeIfPresent(T.self, forKey: AnyKey(key)) ?? fallback
            } catch let e as LrdifError {
                throw e
            } catch {
                throw LrdifError.metadata("malformed metadata: field '\(key)' is not a valid \(T.self)")
            }
        }
        self.init()
        labels = try get("labels", labels); inputSize = try get("input_size", inputSize)
        inputLayout = try get("input_layout", inputLayout); colourOrder = try get("colour_order", colourOrder)
        mean = try get("mean", mean); std = try get("std", std); crop = try get("crop", crop)
        landmarkScheme = try get("landmark_scheme", landmarkScheme)
        landmarkSpace = try get("landmark_space", landmarkSpace)
        numLandmarks = try get("num_landmarks", numLandmarks)
        diffusionSteps = try get("diffusion_steps", diffusionSteps)
        temperature = try get("temperature", temperature); quantisation = try get("quantisation", quantisation)
        batch = try get("batch", batch); inputNames = try get("input_names", inputNames)
        outputNames = try get("output_names", outputNames); modelName = try get("model_name", modelName)
        modelVersion = try get("model_version", modelVersion); preset = try get("preset", preset)
        licence = try get("licence", licence); trainingData = try get("training_data", trainingData)
        weightsSha256 = try get("weights_sha256", weightsSha256); target = try get("target", target)
        schema = try get("schema", schema)
        try validate()
    }

    /// Parse and validate the JSON record (`ModelMetadata.from_json`).
    public static func fromJSON(_ data: Data) throws -> ModelMetadata {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw LrdifError.metadata("metadata is not valid JSON: \(error.localizedDescription)")
        }
        guard object is [String: Any] else {
            throw LrdifError.metadata("metadata must be a JSON object, got \(type(of: object))")
        }
        do {
            return try JSONDecoder().decode(ModelMetadata.self, from: data)
        } catch let e as LrdifError {
            throw e
        } catch {
            throw LrdifError.metadata("malformed metadata: \(error)")
        }
    }

    public static func fromJSON(_ text: String) throws -> ModelMetadata {
        try fromJSON(Data(text.utf8))
    }

    /// The SDK's consistency checks (`ModelMetadata.validate`), same messages.
    public func validate() throws {
        func fail(_ m: String) -> LrdifError { .metadata(m) }
        if schema != Self.schemaName {
            throw fail("unsupported metadata schema '\(schema)' (expected '\(Self.schemaName)')")
        }
        if labels != Labels.eight && labels != Labels.seven {
            throw fail("labels must be the lrdif 7- or 8-class order, got \(labels)")
        }
        if inputSize < 8 { throw fail("input_size must be an int >= 8, got \(inputSize)") }
        if !["NCHW", "NHWC"].contains(inputLayout) {
            throw fail("input_layout must be NCHW or NHWC, got '\(inputLayout)'")
        }
        if !["RGB", "BGR"].contains(colourOrder) {
            throw fail("colour_order must be RGB or BGR, got '\(colourOrder)'")
        }
        for (name, v) in [("mean", mean), ("std", std)] where v.count != 3 || !v.allSatisfy(\.isFinite) {
            throw fail("\(name) must be three finite numbers, got \(v)")
        }
        if std.contains(where: { $0 <= 0 }) { throw fail("std must be positive, got \(std)") }
        if crop.size != inputSize { throw fail("crop.size \(crop.size) != input_size \(inputSize)") }
        if diffusionSteps < 0 { throw fail("diffusion_steps must be an int >= 0, got \(diffusionSteps)") }
        if !(temperature.isFinite && temperature > 0) {
            throw fail("temperature must be a positive finite number, got \(temperature)")
        }
        if batch < 0 { throw fail("batch must be >= 0, got \(batch)") }
        if numLandmarks != 468 {
            throw fail("num_landmarks must be 468 (mediapipe-facemesh-468), got \(numLandmarks)")
        }
        if inputNames.count != 2 || outputNames.count != 2 {
            throw fail("metadata must name 2 inputs (image, landmarks) and 2 outputs (probabilities, logits), "
                       + "got \(inputNames) / \(outputNames)")
        }
    }
}

extension ModelMetadata {
    /// The record as the SDK writes it (`ModelMetadata.to_dict`).
    public func toDictionary() -> [String: Any] {
        ["labels": labels, "input_size": inputSize, "input_layout": inputLayout, "colour_order": colourOrder,
         "mean": mean, "std": std,
         "crop": ["rule": crop.rule, "size": crop.size, "scale": crop.scale, "shift_y": crop.shiftY] as [String: Any],
         "landmark_scheme": landmarkScheme, "landmark_space": landmarkSpace, "num_landmarks": numLandmarks,
         "diffusion_steps": diffusionSteps, "temperature": temperature, "quantisation": quantisation, "batch": batch,
         "input_names": inputNames, "output_names": outputNames, "model_name": modelName,
         "model_version": modelVersion, "preset": preset, "licence": licence, "training_data": trainingData,
         "weights_sha256": weightsSha256, "target": target, "schema": schema]
    }

    /// JSON text with sorted keys (`ModelMetadata.to_json`).
    public func jsonText() throws -> String {
        let d = try JSONSerialization.data(withJSONObject: toDictionary(), options: [.sortedKeys])
        return String(decoding: d, as: UTF8.self)
    }
}
