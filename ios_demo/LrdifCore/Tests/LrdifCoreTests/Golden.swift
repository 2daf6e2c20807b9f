import Foundation
@testable import LrdifCore

/// Reader of the golden vectors ("lrdif.golden/1", written by `python -m lrdif.sdk.golden`).
struct Tensor {
    let dtype: String
    let shape: [Int]
    let raw: [UInt8]

    var count: Int { shape.reduce(1, *) }

    func word(_ i: Int) -> UInt32 {
        raw.withUnsafeBytes { p -> UInt32 in UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    }

    var floats: [Float] {
        precondition(dtype == "float32", "tensor is \(dtype), not float32")
        return (0..<count).map { (i: Int) -> Float in Float(bitPattern: word(i)) }
    }

    var ints: [Int] {
        precondition(dtype == "int32", "tensor is \(dtype), not int32")
        return (0..<count).map { (i: Int) -> Int in Int(Int32(bitPattern: word(i))) }
    }

    var bytes: [UInt8] {
        precondition(dtype == "uint8", "tensor is \(dtype), not uint8")
        return raw
    }
}

struct GoldenCall {
    let model: String
    let roi: [Double]?
    let tensors: [String: Tensor]
}

struct GoldenFrame {
    let name: String
    let width: Int, height: Int
    let timestampMs: Int?
    let frame: RGBImage
    let calls: [GoldenCall]
    let detections: Tensor
    let faces: [String: Tensor]
    let labels: [String]
    let quality: [String]
}

struct GoldenCase {
    let name: String
    let mode: String
    let frames: [GoldenFrame]
}

/// A JSON number as Double (JSONSerialization gives NSNumber, Int or Double depending on platform).
func num(_ v: Any?) -> Double? {
    switch v {
    case let d as Double: return d
    case let i as Int: return Double(i)
    case let n as NSNumber: return n.doubleValue
    default: return nil
    }
}

struct Golden {
    let dir: URL
    let index: [String: Any]
    let metadata: ModelMetadata
    let cases: [GoldenCase]

    var recognizer: [String: Any] { index["recognizer"] as? [String: Any] ?? [:] }

    init(_ dir: URL) throws {
        self.dir = dir
        let data = try TestPaths.bytes(dir.appendingPathComponent("index.json"))
        guard let idx = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Any],
              idx["schema"] as? String == "lrdif.golden/1" else {
            throw LrdifTestError("\(dir.path)/index.json is not lrdif.golden/1")
        }
        index = idx
        let md = try JSONSerialization.data(withJSONObject: idx["metadata"] ?? [:])
        metadata = try ModelMetadata.fromJSON(md)
        cases = try (idx["cases"] as? [[String: Any]] ?? []).map { c in
            GoldenCase(name: c["name"] as? String ?? "?", mode: c["mode"] as? String ?? "image",
                       frames: try (c["frames"] as? [[String: Any]] ?? []).map { try Golden.frame($0, dir) })
        }
    }

    static func tensor(_ e: Any?, _ blob: [UInt8]) throws -> Tensor {
        guard let e = e as? [String: Any], let dtype = e["dtype"] as? String, let shape = e["shape"] as? [Int],
              let off = e["offset"] as? Int, let n = e["nbytes"] as? Int, off + n <= blob.count else {
            throw LrdifTestError("bad tensor entry \(String(describing: e))")
        }
        return Tensor(dtype: dtype, shape: shape, raw: Array(blob[off..<(off + n)]))
    }

    static func frame(_ f: [String: Any], _ dir: URL) throws -> GoldenFrame {
        let blob = try TestPaths.bytes(dir.appendingPathComponent(f["file"] as? String ?? ""))
        let w = f["width"] as? Int ?? 0, h = f["height"] as? Int ?? 0
        let framePath = dir.appendingPathComponent(f["frame_file"] as? String ?? "")
        guard FileManager.default.fileExists(atPath: framePath.path) else {
            throw LrdifTestError("golden frame \(framePath.path) is missing: run python -m lrdif.sdk.golden --frames-only \(dir.path)")
        }
        let image = try RGBImage(width: w, height: h, pixels: try TestPaths.bytes(framePath))
        let calls = try (f["calls"] as? [[String: Any]] ?? []).map { c -> GoldenCall in
            let ts = try (c["tensors"] as? [String: Any] ?? [:]).mapValues { try tensor($0, blob) }
            return GoldenCall(model: c["model"] as? String ?? "?", roi: (c["roi"] as? [Any])?.compactMap(num), tensors: ts)
        }
        let facesEntry = f["faces"] as? [String: Any] ?? [:]
        var faces: [String: Tensor] = [:]
        for (k, v) in facesEntry where v is [String: Any] { faces[k] = try tensor(v, blob) }   // labels, quality, source: strings
        return GoldenFrame(name: f["name"] as? String ?? "?", width: w, height: h, timestampMs: f["timestamp_ms"] as? Int,
                           frame: image, calls: calls, detections: try tensor(f["detections"], blob), faces: faces,
                           labels: facesEntry["labels"] as? [String] ?? [],
                           quality: facesEntry["quality"] as? [String] ?? [])
    }

    /// nil when the golden folder is absent (the caller skips with a message).
    static func load() throws -> Golden? {
        let dir = TestPaths.golden
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("index.json").path) else { return nil }
        return try Golden(dir)
    }
}
