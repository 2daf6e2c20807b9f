import Foundation
import XCTest
@testable import LrdifCore

/// Metadata of real artifacts (the shipped default model named by sdk/models/manifest.json; an
/// .onnx, a .tflite and an .mlpackage made by the SDK's embed_metadata at test time) and of broken files.
final class ArtifactMetadataTests: XCTestCase {
    var manifestURL: URL { TestPaths.repo.appendingPathComponent("sdk/models/manifest.json") }

    /// sdk/models/manifest.json ({"file": name, "sha256": hex, ...}), read with Foundation's JSON reader.
    func manifest() throws -> [String: Any] {
        guard let m = try JSONSerialization.jsonObject(with: Data(try TestPaths.bytes(manifestURL))) as? [String: Any] else {
            throw LrdifTestError("\(manifestURL.path) is not a JSON object")
        }
        return m
    }

    /// The shipped default emotion model: sdk/models/<the manifest's "file">.
    func shippedModel() throws -> URL {
        guard let name = try manifest()["file"] as? String, !name.isEmpty, !name.contains("/") else {
            throw LrdifTestError("\(manifestURL.path): 'file' is not a plain file name")
        }
        return manifestURL.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// A small ONNX model carrying the shipped model's metadata (target onnx), made by make_fixtures.py.
    func onnxFixture() throws -> URL { try TestPaths.fixture("lrdif_mobile.onnx", required: true) }

    func expected(_ name: String) throws -> ModelMetadata {
        try ModelMetadata.fromJSON(Data(try TestPaths.bytes(try TestPaths.fixture(name))))
    }

    func assertThrows(_ body: @autoclosure () throws -> Any, _ kind: (String) -> LrdifError, contains text: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("no error; expected one containing \"\(text)\"", file: file, line: line)
        } catch let e as LrdifError {
            XCTAssertEqual(e, kind(e.message), "wrong error kind: \(e)", file: file, line: line)
            XCTAssertTrue(e.message.contains(text), "message \"\(e.message)\" lacks \"\(text)\"", file: file, line: line)
        } catch {
            XCTFail("not an LrdifError: \(error)", file: file, line: line)
        }
    }

    func testShippedModel() throws {
        let url = try shippedModel()
        let md = try ArtifactMetadata.read(url)
        XCTAssertEqual(try ArtifactMetadata.format(of: url), .tflite)
        XCTAssertEqual(md.target, "tflite")
        XCTAssertEqual(md.modelName, "lrdif-mobile")
        XCTAssertEqual(md.labels, Labels.eight)
        XCTAssertEqual(md.inputSize, 64)
        XCTAssertEqual(md.crop, CropSpec())
        XCTAssertEqual(md.modelVersion, try manifest()["model_version"] as? String)
        XCTAssertEqual(try ArtifactMetadata.read(try TestPaths.bytes(url), format: .tflite), md)
        guard let g = try Golden.load() else { throw XCTSkip("no golden vectors at \(TestPaths.golden.path)") }
        XCTAssertEqual(md.temperature, g.metadata.temperature, "calibrated temperature differs from the golden index's")
        // the golden vectors were made with this model: same file, same metadata
        XCTAssertEqual(g.index["model_file"] as? String, "sdk/models/\(url.lastPathComponent)")
        XCTAssertEqual(g.index["model_sha256"] as? String, try manifest()["sha256"] as? String)
        XCTAssertEqual(md, g.metadata, "the shipped model's metadata differs from the golden index's copy")
    }

    func testOnnxFixtureCarriesTheShippedMetadata() throws {
        let url = try onnxFixture()
        let md = try ArtifactMetadata.read(url)
        XCTAssertEqual(md, try expected("lrdif_mobile.expected.json"))
        XCTAssertEqual(try ArtifactMetadata.format(of: url), .onnx)
        XCTAssertEqual(md.target, "onnx")
        XCTAssertEqual(md.labels, Labels.eight)
        XCTAssertEqual(try ArtifactMetadata.read(try TestPaths.bytes(url), format: .onnx), md)
        // as the ONNX exporter writes it: target onnx, dynamic batch; the rest as shipped
        var want = try ArtifactMetadata.read(try shippedModel())
        want.target = "onnx"
        want.batch = 0
        XCTAssertEqual(md, want)
    }

    func testTfliteWithEmbeddedMetadata() throws {
        let url = try TestPaths.fixture("blazeface_lrdif.tflite")
        let md = try ArtifactMetadata.read(url)
        XCTAssertEqual(md, try expected("blazeface_lrdif.expected.json"))
        XCTAssertEqual(md.target, "tflite")
        XCTAssertEqual(md.temperature, 1.5)
        XCTAssertEqual(try ArtifactMetadata.read(try TestPaths.bytes(url), format: .tflite), md)
    }

    func testMlpackageFromCoremltools() throws {
        let md = try ArtifactMetadata.read(try TestPaths.fixture("tiny_lrdif.mlpackage"))
        XCTAssertEqual(md, try expected("tiny_lrdif.expected.json"))
        XCTAssertEqual(md.target, "coreml")
        XCTAssertEqual(md.quantisation, "int8-weights")
    }

    func testMlpackageBuiltHere() throws {
        var want = ModelMetadata()
        want.target = "coreml"
        want.temperature = 1.25
        want.labels = Labels.seven
        let dir = try SpecBuilder.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pkg = dir.appendingPathComponent("m.mlpackage")
        try SpecBuilder.mlpackage(at: pkg, spec: SpecBuilder.coremlSpec(userDefined: [
            "com.github.apple.coremltools.version": "9.0", ModelMetadata.key: try want.jsonText()]))
        XCTAssertEqual(try ArtifactMetadata.read(pkg), want)
    }

    func testPlainTfliteHasNoMetadata() throws {
        let url = try TestPaths.fixture("blazeface_plain.tflite")
        assertThrows(try ArtifactMetadata.read(url), LrdifError.metadata, contains: "no appended 'metadata.json' holding 'lrdif_metadata'")
    }

    func testTruncatedTflite() throws {
        let bytes = try TestPaths.bytes(try TestPaths.fixture("blazeface_lrdif.tflite"))
        assertThrows(try ArtifactMetadata.read(Array(bytes.dropLast(30)), format: .tflite, where: "cut.tflite"),
                     LrdifError.badModelFile, contains: "cut.tflite: truncated file")
        assertThrows(try ArtifactMetadata.read(Array(bytes.prefix(6)), format: .tflite, where: "cut.tflite"),
                     LrdifError.badModelFile, contains: "not a TFLite flatbuffer (no TFL3 identifier)")
    }

    func testTruncatedOnnx() throws {
        let bytes = try TestPaths.bytes(try onnxFixture())
        assertThrows(try ArtifactMetadata.read(Array(bytes.prefix(bytes.count / 2)), format: .onnx, where: "half.onnx"),
                     LrdifError.badModelFile, contains: "half.onnx: not a readable ONNX model (truncated message)")
        assertThrows(try ArtifactMetadata.read([UInt8](), format: .onnx), LrdifError.badModelFile, contains: "no ONNX graph")
    }

    func testBrokenMlpackages() throws {
        let dir = try SpecBuilder.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let noManifest = dir.appendingPathComponent("a.mlpackage")
        try SpecBuilder.mlpackage(at: noManifest, spec: [], manifest: false)
        assertThrows(try ArtifactMetadata.read(noManifest), LrdifError.badModelFile, contains: "not an .mlpackage (no Manifest.json)")
        let noSpec = dir.appendingPathComponent("b.mlpackage")
        try SpecBuilder.mlpackage(at: noSpec, spec: nil)
        assertThrows(try ArtifactMetadata.read(noSpec), LrdifError.badModelFile, contains: "root model spec Data/com.apple.CoreML/model.mlmodel")
        let noKey = dir.appendingPathComponent("c.mlpackage")
        try SpecBuilder.mlpackage(at: noKey, spec: SpecBuilder.coremlSpec(userDefined: ["author": "x"]))
        assertThrows(try ArtifactMetadata.read(noKey), LrdifError.metadata,
                     contains: "no 'lrdif_metadata' in the CoreML user_defined_metadata")
        let spec = SpecBuilder.coremlSpec(userDefined: [ModelMetadata.key: try ModelMetadata().jsonText()])
        let cut = dir.appendingPathComponent("d.mlpackage")
        try SpecBuilder.mlpackage(at: cut, spec: Array(spec.dropLast(10)))
        assertThrows(try ArtifactMetadata.read(cut), LrdifError.badModelFile, contains: "corrupt CoreML spec (truncated message)")
    }

    func testMissingFileAndUnknownFormat() {
        assertThrows(try ArtifactMetadata.read(URL(fileURLWithPath: "/nonexistent/m.onnx")), LrdifError.badModelFile,
                     contains: "/nonexistent/m.onnx: no such model")
        assertThrows(try ArtifactMetadata.read(URL(fileURLWithPath: "/tmp/m.bin")), LrdifError.badModelFile,
                     contains: "unknown model format")
    }

    func testTargetMismatch() throws {
        var md = ModelMetadata()
        md.target = "onnx"
        let spec = SpecBuilder.coremlSpec(userDefined: [ModelMetadata.key: try md.jsonText()])
        assertThrows(try ArtifactMetadata.read(spec, format: .coreml, where: "x.mlmodel"), LrdifError.metadata,
                     contains: "x.mlmodel: metadata says target 'onnx' but the file is coreml")
    }
}
