import Foundation

/// Reads a zip archive appended to other bytes (the TFLite metadata layout: flatbuffer, then a zip
/// whose offsets are relative to the zip's own start). Stored (uncompressed) members only, which is
/// what `lrdif.sdk.artifact_metadata.embed_metadata` writes.
struct AppendedZip {
    struct Entry {
        let name: String
        let method: Int
        let compressedSize: Int
        let localOffset: Int   // relative to the zip start
    }

    enum Failure: Error {
        case noArchive                 // no end-of-central-directory record at all
        case truncated(String)         // a record points outside the data
        case unsupported(String)
    }

    let bytes: [UInt8]
    let prefix: Int                    // where the zip starts inside `bytes`
    let entries: [Entry]

    static func u16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    static func u32(_ b: [UInt8], _ i: Int) -> Int { u16(b, i) | u16(b, i + 2) << 16 }

    /// True when the bytes hold a local file header for `name` (a zip was appended, maybe cut short).
    static func hasLocalHeader(_ b: [UInt8], named name: String) -> Bool {
        let n = Array(name.utf8)
        guard b.count >= 30 + n.count else { return false }
        for i in 0...(b.count - 30 - n.count) where b[i] == 0x50 && b[i + 1] == 0x4B && b[i + 2] == 3 && b[i + 3] == 4 {
            if u16(b, i + 26) == n.count && Array(b[(i + 30)..<(i + 30 + n.count)]) == n { return true }
        }
        return false
    }

    init(_ b: [UInt8]) throws {
        bytes = b
        var eocd = -1
        if b.count >= 22 {
            let lowest = max(0, b.count - 22 - 65_535)
            for i in stride(from: b.count - 22, through: lowest, by: -1)
            where b[i] == 0x50 && b[i + 1] == 0x4B && b[i + 2] == 5 && b[i + 3] == 6
                && i + 22 + Self.u16(b, i + 20) == b.count {   // the record's comment must end the data
                eocd = i
                break
            }
        }
        guard eocd >= 0 else { throw Failure.noArchive }
        let count = Self.u16(b, eocd + 10), dirSize = Self.u32(b, eocd + 12), dirOffset = Self.u32(b, eocd + 16)
        prefix = eocd - dirSize - dirOffset
        guard prefix >= 0 else { throw Failure.truncated("central directory starts before the data") }
        var pos = prefix + dirOffset
        var out: [Entry] = []
        for _ in 0..<count {
            guard pos + 46 <= eocd, Self.u32(b, pos) == 0x0201_4B50 else {
                throw Failure.truncated("bad central directory entry")
            }
            let nameLen = Self.u16(b, pos + 28), extra = Self.u16(b, pos + 30), comment = Self.u16(b, pos + 32)
            guard pos + 46 + nameLen <= eocd else { throw Failure.truncated("bad central directory entry") }
            let name = String(decoding: b[(pos + 46)..<(pos + 46 + nameLen)], as: UTF8.self)
            out.append(Entry(name: name, method: Self.u16(b, pos + 10), compressedSize: Self.u32(b, pos + 20),
                             localOffset: Self.u32(b, pos + 42)))
            pos += 46 + nameLen + extra + comment
        }
        entries = out
    }

    /// Offset of the first member: the end of whatever precedes the zip (the flatbuffer proper).
    var firstMemberOffset: Int { prefix + (entries.map(\.localOffset).min() ?? 0) }

    func read(_ name: String) throws -> [UInt8]? {
        guard let e = entries.first(where: { $0.name == name }) else { return nil }
        guard e.method == 0 else {
            throw Failure.unsupported("member '\(name)' is compressed (method \(e.method)); only stored members are read")
        }
        let h = prefix + e.localOffset
        guard h + 30 <= bytes.count, Self.u32(bytes, h) == 0x0403_4B50 else {
            throw Failure.truncated("bad local header for '\(name)'")
        }
        let start = h + 30 + Self.u16(bytes, h + 26) + Self.u16(bytes, h + 28)
        guard start + e.compressedSize <= bytes.count else { throw Failure.truncated("'\(name)' is cut short") }
        return Array(bytes[start..<(start + e.compressedSize)])
    }
}
