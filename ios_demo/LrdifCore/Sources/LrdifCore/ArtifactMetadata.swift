import Foundation

/// Reads the lrdif `ModelMetadata` embedded in an exported artifact, as
/// `lrdif.sdk.artifact_metadata.read_metadata` does (same places, same messages):
/// `.onnx` metadata_props, `.tflite` appended zip member `metadata.json` ({"lrdif_metadata": {...}}),
/// `.mlpackage` / `.mlmodel` spec `description.metadata.userDefined`.
public enum ArtifactMetadata {
    public enum Format: String { case onnx, tflite, coreml }

    static let suffixes: [String: Format] = ["onnx": .onnx, "tflite": .tflite, "mlpackage": .coreml, "mlmodel": .coreml]
    static let tfliteMember = "metadata.json"
    static let key = ModelMetadata.key

    public static func format(of url: URL) throws -> Format {
        guard let f = suffixes[url.pathExtension.lowercased()] else {
            throw LrdifError.badModelFile("\(url.path): unknown model format (expected one of .mlmodel, .mlpackage, .onnx, .tflite)")
        }
        return f
    }

    /// The metadata of the artifact at `url` (a file, or an .mlpackage directory).
    public static func read(_ url: URL) throws -> ModelMetadata {
        let fmt = try format(of: url)
        let path = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw LrdifError.badModelFile("\(path): no such model")
        }
        if fmt == .coreml {
            let spec = isDir.boolValue ? try mlpackageSpec(url) : url
            return try coreml(try contents(spec), where: path)
        }
        if isDir.boolValue { throw LrdifError.badModelFile("\(path): is a directory, expected a \(fmt.rawValue) file") }
        return try read(try contents(url), format: fmt, where: path)
    }

    /// The metadata of a single-file artifact held in memory (`.onnx`, `.tflite`, or a CoreML spec).
    public static func read(_ bytes: [UInt8], format: Format, where source: String = "<bytes>") throws -> ModelMetadata {
        switch format {
        case .onnx: return try onnx(bytes, where: source)
        case .tflite: return try tflite(bytes, where: source)
        case .coreml: return try coreml(bytes, where: source)
        }
    }

    static func contents(_ url: URL) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: url.path) else {
            throw LrdifError.badModelFile("\(url.path): cannot be read")
        }
        return [UInt8](d)
    }

    static func parse(_ text: String, where source: String, format: Format) throws -> ModelMetadata {
        let md: ModelMetadata
        do {
            md = try ModelMetadata.fromJSON(text)
        } catch let e as LrdifError {
            throw LrdifError.metadata("\(source): \(e.message)")
        }
        if !md.target.isEmpty && md.target != format.rawValue {
            throw LrdifError.metadata("\(source): metadata says target '\(md.target)' but the file is \(format.rawValue)")
        }
        return md
    }

    static func missing(_ source: String, _ place: String) -> LrdifError {
        .metadata("\(source): no '\(key)' in the \(place): not an lrdif export (or exported without metadata)")
    }
}
