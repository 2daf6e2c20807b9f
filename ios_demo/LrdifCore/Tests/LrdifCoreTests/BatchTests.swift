import Foundation
import XCTest
@testable import LrdifCore

/// Fixed-batch models (CoreML and TFLite exports have batch 1): faces go in chunks of `batch`,
/// the last chunk padded by repeating its last face, padded outputs dropped.
final class BatchTests: XCTestCase {
    final class CountingRuntime: LrdifRuntime {
        var shapes: [[Int]] = []
        func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float]) { ([], []) }
        func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float) { ([], 0) }
        func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float] {
            shapes.append(imageShape)
            // logit k of face b = the face's first landmark x (its index) when k == 1
            return (0..<imageShape[0]).flatMap { b in (0..<8).map { $0 == 1 ? landmarks[b * 936] * 10 : 0 } }
        }
    }

    func face(_ i: Int) -> Face {
        var cl = [Float](repeating: 0.5, count: 936)
        cl[0] = Float(i)
        return Face(box: [0, 0, 1, 1], score: 1, keypoints: [], landmarks: [], presence: 1,
                    crop: RGBImage(blankWidth: 64, height: 64), cropLandmarks: cl, affine: Affine2D([1, 0, 0, 0, 1, 0]))
    }

    func testChunksOfTheMetadataBatch() throws {
        var md = ModelMetadata()
        md.batch = 2
        let rt = CountingRuntime()
        let rec = try EmotionRecognizer(runtime: rt, metadata: md)
        let probs = try rec.classify([face(0), face(1), face(2)])
        XCTAssertEqual(rt.shapes, [[2, 3, 64, 64], [2, 3, 64, 64]])
        XCTAssertEqual(probs.count, 3)
        XCTAssertLessThan(probs[0][1], probs[1][1])
        XCTAssertLessThan(probs[1][1], probs[2][1], "face 2's logits come from the padded call's first row")
        md.batch = 0
        let dyn = CountingRuntime()
        _ = try EmotionRecognizer(runtime: dyn, metadata: md).classify([face(0), face(1), face(2)])
        XCTAssertEqual(dyn.shapes, [[3, 3, 64, 64]])
    }

    func testWrongNumberOfLogitsIsAnError() throws {
        final class Short: LrdifRuntime {
            func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float]) { ([], []) }
            func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float) { ([], 0) }
            func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float] { [1, 2, 3] }
        }
        let rec = try EmotionRecognizer(runtime: Short(), metadata: ModelMetadata())
        XCTAssertThrowsError(try rec.classify([face(0)])) { e in
            XCTAssertEqual(e as? LrdifError, .runtime("emotion model returned 3 logits for 1 faces x 8 classes"))
        }
    }
}
