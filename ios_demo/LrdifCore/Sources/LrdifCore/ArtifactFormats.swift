import Foundation

// The three per-format readers behind `ArtifactMetadata.read`.
extension ArtifactMetadata {
    /// ONNX ModelProto: graph = 7, metadata_props = 14.
    static func onnx(_ bytes: [UInt8], where source: String) throws -> ModelMetadata {
        let pb = ProtobufReader(bytes: bytes)
        let props: [String: String]
        do {
            let fields = try pb.fields()
            guard fields.contains(where: { $0.number == 7 && $0.wireType == 2 }) else {
                throw ProtobufReader.WireError(reason: "no ONNX graph in the protobuf")
            }
            props = try pb.stringMap(nil, 14)
        } catch let e as ProtobufReader.WireError {
            throw LrdifError.badModelFile("\(source): not a readable ONNX model (\(e.reason))")
        }
        guard let text = props[key] else { throw missing(source, "ONNX metadata_props") }
        return try parse(text, where: source, format: .onnx)
    }

    /// TFLite: flatbuffer ("TFL3" at bytes 4..8), then a zip holding metadata.json.
    static func tflite(_ bytes: [UInt8], where source: String) throws -> ModelMetadata {
        guard bytes.count >= 8, Array(bytes[4..<8]) == Array("TFL3".utf8) else {
            throw LrdifError.badModelFile("\(source): not a TFLite flatbuffer (no TFL3 identifier)")
        }
        let absent = LrdifError.metadata("\(source): no appended '\(tfliteMember)' holding '\(key)': "
                                         + "not an lrdif export (or exported without metadata)")
        let member: [UInt8]?
        do {
            member = try AppendedZip(bytes).read(tfliteMember)
        } catch AppendedZip.Failure.noArchive {
            if AppendedZip.hasLocalHeader(bytes, named: tfliteMember) {
                throw LrdifError.badModelFile("\(source): truncated file: the appended metadata zip has no "
                                              + "end-of-central-directory record")
            }
            throw absent
        } catch AppendedZip.Failure.truncated(let why) {
            throw LrdifError.badModelFile("\(source): truncated file: appended metadata zip: \(why)")
        } catch AppendedZip.Failure.unsupported(let why) {
            throw LrdifError.metadata("\(source): \(why)")
        }
        guard let json = member else { throw absent }
        let inner: Any?
        do {
            let doc = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
            inner = doc?[key]
        } catch {
            throw LrdifError.metadata("\(source): malformed \(tfliteMember) (\(error.localizedDescription))")
        }
        guard let obj = inner, JSONSerialization.isValidJSONObject(obj),
              let text = String(data: try JSONSerialization.data(withJSONObject: obj), encoding: .utf8) else {
            throw LrdifError.metadata("\(source): malformed \(tfliteMember) (KeyError: '\(key)')")
        }
        return try parse(text, where: source, format: .tflite)
    }

    /// CoreML Model: description = 2; ModelDescription.metadata = 100; Metadata.userDefined = 100.
    static func coreml(_ bytes: [UInt8], where source: String) throws -> ModelMetadata {
        let pb = ProtobufReader(bytes: bytes)
        var props: [String: String] = [:]
        do {
            for d in try pb.submessages(nil, 2) {
                for m in try pb.submessages(d, 100) {
                    props.merge(try pb.stringMap(m, 100)) { _, new in new }
                }
            }
        } catch let e as ProtobufReader.WireError {
            throw LrdifError.badModelFile("\(source): corrupt CoreML spec (\(e.reason))")
        }
        guard let text = props[key] else { throw missing(source, "CoreML user_defined_metadata") }
        return try parse(text, where: source, format: .coreml)
    }

    /// The root spec file of an .mlpackage, named by Manifest.json.
    static func mlpackageSpec(_ url: URL) throws -> URL {
        let manifest = url.appendingPathComponent("Manifest.json")
        guard let data = FileManager.default.contents(atPath: manifest.path) else {
            throw LrdifError.badModelFile("\(url.path): not an .mlpackage (no Manifest.json)")
        }
        guard let m = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let root = m["rootModelIdentifier"] as? String,
              let items = m["itemInfoEntries"] as? [String: Any],
              let item = items[root] as? [String: Any], let rel = item["path"] as? String else {
            throw LrdifError.badModelFile("\(url.path): malformed Manifest.json (no root model entry)")
        }
        let spec = url.appendingPathComponent("Data").appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: spec.path) else {
            throw LrdifError.badModelFile("\(url.path): the root model spec Data/\(rel) named by Manifest.json is missing")
        }
        return spec
    }
}
