import Foundation

/// A minimal protobuf wire-format reader (no generated code), enough to reach ONNX
/// `metadata_props` and CoreML `userDefined` metadata. Mirrors `lrdif.sdk.artifact_metadata`.
struct ProtobufReader {
    struct Field {
        let number: Int
        let wireType: Int
        let varint: UInt64
        let range: Range<Int>   // payload of a length-delimited field
    }

    struct WireError: Error { let reason: String }

    let bytes: [UInt8]

    func varint(_ pos: inout Int, _ end: Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw WireError(reason: "truncated varint") }
            let b = bytes[pos]
            pos += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw WireError(reason: "varint too long") }
        }
    }

    /// All fields of the message in `range`, in order.
    func fields(_ range: Range<Int>? = nil) throws -> [Field] {
        let r = range ?? 0..<bytes.count
        var pos = r.lowerBound
        let end = r.upperBound
        var out: [Field] = []
        while pos < end {
            let key = try varint(&pos, end)
            let number = Int(key >> 3), wt = Int(key & 7)
            if number == 0 { throw WireError(reason: "field number 0") }
            var value: UInt64 = 0
            var payload = pos..<pos
            switch wt {
            case 0: value = try varint(&pos, end)
            case 1: pos += 8
            case 5: pos += 4
            case 2:
                let n = try varint(&pos, end)
                guard n <= UInt64(end - pos) else { throw WireError(reason: "truncated message") }
                payload = pos..<(pos + Int(n))
                pos += Int(n)
            default: throw WireError(reason: "unsupported wire type \(wt)")
            }
            if pos > end { throw WireError(reason: "truncated message") }
            out.append(Field(number: number, wireType: wt, varint: value, range: payload))
        }
        return out
    }

    /// Payload ranges of the length-delimited occurrences of field `number`.
    func submessages(_ range: Range<Int>?, _ number: Int) throws -> [Range<Int>] {
        try fields(range).filter { $0.number == number && $0.wireType == 2 }.map(\.range)
    }

    /// Entries {key = 1, value = 2} of repeated field `number` (ONNX StringStringEntryProto and
    /// protobuf map<string, string> share this layout).
    func stringMap(_ range: Range<Int>?, _ number: Int) throws -> [String: String] {
        var out: [String: String] = [:]
        for entry in try submessages(range, number) {
            var k = "", v = ""
            for f in try fields(entry) where f.wireType == 2 && (f.number == 1 || f.number == 2) {
                let s = String(decoding: bytes[f.range], as: UTF8.self)
                if f.number == 1 { k = s } else { v = s }
            }
            out[k] = v
        }
        return out
    }
}
