import Foundation

/// Builds protobuf bytes by hand for the CoreML / ONNX metadata tests (the fields the readers use).
enum SpecBuilder {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }

    static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }

    static func entry(_ key: String, _ value: String) -> [UInt8] {
        field(1, Array(key.utf8)) + field(2, Array(value.utf8))
    }

    /// CoreML Model { specificationVersion = 1; description = 2 { metadata = 100 { userDefined = 100 } } }.
    static func coremlSpec(userDefined: [String: String]) -> [UInt8] {
        let map = userDefined.sorted { $0.key < $1.key }.flatMap { field(100, entry($0.key, $0.value)) }
        let metadata = field(100, field(1, Array("short description".utf8)) + map)
        return varint(1 << 3 | 0) + varint(8) + field(2, metadata)
    }

    /// Writes an .mlpackage directory (Manifest.json + Data/com.apple.CoreML/model.mlmodel).
    static func mlpackage(at url: URL, spec: [UInt8]?, manifest: Bool = true) throws {
        let data = url.appendingPathComponent("Data/com.apple.CoreML")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        if let spec = spec { try Data(spec).write(to: data.appendingPathComponent("model.mlmodel")) }
        guard manifest else { return }
        let m = """
        {"fileFormatVersion": "1.0.0", "itemInfoEntries": {"ID1": {"author": "com.apple.CoreML",
         "description": "CoreML Model Specification", "name": "model.mlmodel", "path": "com.apple.CoreML/model.mlmodel"}},
         "rootModelIdentifier": "ID1"}
        """
        try Data(m.utf8).write(to: url.appendingPathComponent("Manifest.json"))
    }

    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("lrdif-core-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
