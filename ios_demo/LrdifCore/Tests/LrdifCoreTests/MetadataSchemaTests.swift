import Foundation
import XCTest
@testable import LrdifCore

/// The ModelMetadata schema checks, same messages as lrdif.sdk.metadata.
final class MetadataSchemaTests: XCTestCase {
    func json(_ changes: [String: Any], drop: [String] = []) throws -> Data {
        var d = ModelMetadata().toDictionary()
        for (k, v) in changes { d[k] = v }
        for k in drop { d.removeValue(forKey: k) }
        return try JSONSerialization.data(withJSONObject: d)
    }

    func assertRejected(_ changes: [String: Any], drop: [String] = [], _ text: String, line: UInt = #line) throws {
        XCTAssertThrowsError(try ModelMetadata.fromJSON(try json(changes, drop: drop)), line: line) { e in
            guard let e = e as? LrdifError, case .metadata(let m) = e else { return XCTFail("\(e)", line: line) }
            XCTAssertTrue(m.contains(text), "\"\(m)\" lacks \"\(text)\"", line: line)
        }
    }

    func testRoundTripOfTheDefaults() throws {
        XCTAssertEqual(try ModelMetadata.fromJSON(try ModelMetadata().jsonText()), ModelMetadata())
        XCTAssertEqual(try ModelMetadata.fromJSON(try json([:], drop: ["temperature"])).temperature, 1.0,
                       "records written before the temperature field default to 1.0")
    }

    func testTemperatureMustBePositiveAndFinite() throws {
        try assertRejected(["temperature": 0], "temperature must be a positive finite number, got 0.0")
        try assertRejected(["temperature": -2.5], "temperature must be a positive finite number")
        try assertRejected(["temperature": "warm"], "malformed metadata: field 'temperature'")
    }

    func testSchemaFieldsAndLabels() throws {
        try assertRejected([:], drop: ["schema"], "metadata has no 'schema' field: not an lrdif model")
        try assertRejected(["schema": "other/2"], "unsupported metadata schema 'other/2' (expected 'lrdif.model/1')")
        try assertRejected(["colour": "RGB"], "unknown metadata fields: [\"colour\"]")
        try assertRejected(["labels": ["a", "b"]], "labels must be the lrdif 7- or 8-class order")
        try assertRejected(["input_layout": "CHW"], "input_layout must be NCHW or NHWC, got 'CHW'")
        try assertRejected(["std": [0.5, 0, 0.5]], "std must be positive")
        try assertRejected(["mean": [0.5, 0.5]], "mean must be three finite numbers")
        try assertRejected(["input_size": 32], "crop.size 64 != input_size 32")
        try assertRejected(["num_landmarks": 478], "num_landmarks must be 468")
        XCTAssertThrowsError(try ModelMetadata.fromJSON("[1, 2]"))
        XCTAssertThrowsError(try ModelMetadata.fromJSON("{not json")) { e in
            XCTAssertTrue((e as? LrdifError)?.message.hasPrefix("metadata is not valid JSON") ?? false, "\(e)")
        }
    }
}
