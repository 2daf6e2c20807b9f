import Foundation
import XCTest
@testable import LrdifCore

/// Bad input to the core -> a thrown LrdifError with a clear message.
final class InputErrorTests: XCTestCase {
    func message(_ body: () throws -> Any) -> String? {
        do { _ = try body() } catch let e as LrdifError { return e.message } catch { return "not an LrdifError: \(error)" }
        return nil
    }

    func testEmptyFrame() {
        XCTAssertEqual(message { try RGBImage(width: 0, height: 480, pixels: []) },
                       "frame is empty: 0x480; expected a non-empty RGB image")
        XCTAssertEqual(message { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) },
                       "frame buffer has 3 bytes; a 2x2 RGB frame needs 12")
    }

    func testWrongLandmarkCount() {
        let m = message { try EmotionCrop.affine(landmarks: [Float](repeating: 1, count: 478 * 3), spec: CropSpec()) }
        XCTAssertEqual(m, "landmarks must hold 468 points of (x, y) or (x, y, z): got 1434 values "
                          + "(the lrdif crop needs the 468-point FaceMesh scheme)")
        XCTAssertEqual(message { try FaceMesh.project([0, 0, 0], roi: Roi(cx: 0, cy: 0, size: 1, rotation: 0)) },
                       "landmark model must return 468 x 3 values, got 3")
        var nan = [Float](repeating: 1, count: 468 * 2)
        nan[5] = .nan
        XCTAssertEqual(message { try FaceMesh.roi(fromLandmarks: nan) }, "previous landmarks contains NaN or inf")
    }

    /// A runtime whose landmark model returns the 478-point (iris) scheme: the pipeline refuses it.
    final class WrongSchemeRuntime: LrdifRuntime {
        func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float]) {
            let n = detector.numAnchors
            var reg = [Float](repeating: 0, count: n * 16), logits = [Float](repeating: -20, count: n)
            logits[300] = 5
            reg[300 * 16 + 2] = 40; reg[300 * 16 + 3] = 40; reg[300 * 16 + 6] = 10
            return (reg, logits)
        }
        func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float) {
            ([Float](repeating: 96, count: 478 * 3), 5)
        }
        func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float] { [] }
    }

    func testRecognizerRejectsAWrongLandmarkModel() throws {
        let rec = try EmotionRecognizer(runtime: WrongSchemeRuntime(), metadata: ModelMetadata())
        let frame = try RGBImage(width: 64, height: 48, pixels: [UInt8](repeating: 90, count: 64 * 48 * 3))
        XCTAssertThrowsError(try rec.predict(frame)) { e in
            XCTAssertEqual(e as? LrdifError, .runtime("landmark model must return 468 x 3 values, got 1434"))
        }
    }

    func testVideoTimestampsMustIncrease() throws {
        let rec = try EmotionRecognizer(runtime: WrongSchemeRuntime(), metadata: ModelMetadata())
        rec.lastTimestamp = 10
        let frame = try RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 0, count: 48))
        XCTAssertThrowsError(try rec.predictForVideo(frame, timestampMs: 10)) { e in
            XCTAssertTrue("\(e)".contains("must increase monotonically: got 10 after 10"), "\(e)")
        }
    }

    func testBadOptions() {
        var o = RecognizerOptions()
        o.smoothing = 1
        XCTAssertEqual(message { try EmotionRecognizer(runtime: WrongSchemeRuntime(), metadata: ModelMetadata(), options: o) },
                       "smoothing must be in [0, 1), got 1.0")
    }
}
