import Foundation
import XCTest
@testable import LrdifCore

/// BlazeFace anchors, decoding and weighted NMS on synthetic outputs.
final class DetectorTests: XCTestCase {
    func testAnchorsFollowMediaPipe() {
        let a = BlazeFace.anchors
        XCTAssertEqual(a.count, 896)
        XCTAssertEqual(a[0].0, 0.5 / 16, accuracy: 1e-7)          // 16x16 grid, 2 anchors per cell
        XCTAssertEqual(a[1].0, a[0].0)
        XCTAssertEqual(a[2].0, 1.5 / 16, accuracy: 1e-7)
        XCTAssertEqual(a[512].0, 0.5 / 8, accuracy: 1e-7)         // then 8x8, 6 anchors per cell
        XCTAssertEqual(a[517].1, 0.5 / 8, accuracy: 1e-7)
        XCTAssertEqual(a[518].0, 1.5 / 8, accuracy: 1e-7)
        XCTAssertEqual(a[895].0, 7.5 / 8, accuracy: 1e-7)
    }

    /// One confident anchor with a 32 px box in a 256x128 frame (letterboxed: side 256, y0 -64).
    func outputs(_ hits: [(Int, Float, [Float])]) -> ([Float], [Float]) {
        var reg = [Float](repeating: 0, count: 896 * 16), logits = [Float](repeating: -20, count: 896)
        for (i, logit, r) in hits {
            logits[i] = logit
            for j in 0..<r.count { reg[i * 16 + j] = r[j] }
        }
        return (reg, logits)
    }

    func testDecodeAndLetterboxRemoval() throws {
        let (_, x0, y0, side) = BlazeFace.letterbox(width: 256, height: 128)
        XCTAssertEqual([x0, y0, side], [0, -64, 256])
        let i = 2 * (8 * 16 + 8)                 // anchor (8.5/16, 8.5/16) of the stride-8 layer
        let (reg, logits) = outputs([(i, 4, [2, -1, 32, 16, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])])
        let dets = try BlazeFace.decode(regressors: reg, logits: logits, letterbox: (x0, y0, side), minScore: 0.5)
        XCTAssertEqual(dets.count, 1)
        let cx = (8.5 / 16 + 2.0 / 128) * 256, cy = (8.5 / 16 - 1.0 / 128) * 256 - 64
        XCTAssertEqual(Double(dets[0].box[0]), cx - 32, accuracy: 1e-4)   // w = 32/128 * 256 = 64
        XCTAssertEqual(Double(dets[0].box[1]), cy - 16, accuracy: 1e-4)
        XCTAssertEqual(dets[0].box[2], 64, accuracy: 1e-4)
        XCTAssertEqual(dets[0].box[3], 32, accuracy: 1e-4)
        XCTAssertEqual(Double(dets[0].score), 1 / (1 + exp(-4.0)), accuracy: 1e-6)
        XCTAssertEqual(Double(dets[0].keypoints[2]), (8.5 / 16 + 4.0 / 128) * 256, accuracy: 1e-4)
    }

    func testScoreClipAndThreshold() throws {
        let (reg, logits) = outputs([(0, 1e6, [0, 0, 8, 8]), (100, 0.1, [0, 0, 8, 8])])
        let dets = try BlazeFace.decode(regressors: reg, logits: logits, letterbox: (0, 0, 128), minScore: 0.6)
        XCTAssertEqual(dets.count, 1)
        XCTAssertEqual(dets[0].score, 1)
        XCTAssertTrue(BlazeFace.sigmoid(-1e9) > 0, "logits are clipped to -100")
    }

    func testWeightedNMSBlendsOverlappingBoxesByScore() {
        let boxes: [[Double]] = [[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]]
        let kps: [[Double]] = [[0, 0], [2, 2], [9, 9]]
        let out = BlazeFace.weightedNMS(boxes: boxes, keypoints: kps, scores: [0.9, 0.6, 0.8], iouThreshold: 0.3)
        XCTAssertEqual(out.count, 2)
        XCTAssertEqual(out[0].2, 0.9)
        XCTAssertEqual(out[0].0[0], (0 * 0.9 + 1 * 0.6) / 1.5, accuracy: 1e-12)
        XCTAssertEqual(out[0].1[1], (0 * 0.9 + 2 * 0.6) / 1.5, accuracy: 1e-12)
        XCTAssertEqual(out[1].0, [50, 50, 60, 60])
    }

    func testWrongOutputSizeIsAnError() {
        XCTAssertThrowsError(try BlazeFace.decode(regressors: [1, 2], logits: [], letterbox: (0, 0, 1), minScore: 0.5)) { e in
            XCTAssertTrue("\(e)".contains("896x16 regressors"), "\(e)")
        }
    }
}

/// Full-range anchors, auto-mode merging and the box-sanity rule.
final class DetectorModeTests: XCTestCase {
    func det(_ x: Float, _ w: Float, _ score: Float, _ source: String) -> Detection {
        Detection(box: [x, 10, w, w], score: score, keypoints: [Float](repeating: 0, count: 12), source: source)
    }

    func testFullRangeAnchors() {
        let a = DetectorOptions.fullRange.anchors
        XCTAssertEqual(a.count, 2304)                      // 48 x 48 cells, one anchor each
        XCTAssertEqual(a[0].0, 0.5 / 48, accuracy: 1e-7)
        XCTAssertEqual(a[1].0, 1.5 / 48, accuracy: 1e-7)
        XCTAssertEqual(a[48].1, 1.5 / 48, accuracy: 1e-7)
        XCTAssertEqual(DetectorOptions.shortRange.numAnchors, 896)
    }

    func testMergeKeepsLargeShortRangeFacesAndAddsTheRest() {
        let short = [det(0, 100, 0.9, "short"), det(300, 20, 0.8, "short")]
        let full = [det(2, 98, 0.7, "full"), det(301, 21, 0.75, "full"), det(600, 30, 0.65, "full"), det(601, 30, 0.6, "full")]
        let out = DetectionMerge.merge(short: short, full: full, longSide: 400)
        XCTAssertEqual(out.map(\.source), ["short", "full", "full"])   // large short face replaces its twin
        XCTAssertEqual(out.map(\.box[0]), [0, 301, 600])                 // small one: full range kept; duplicate dropped
    }

    func testRoiAgreement() {
        let a = RoiAgreement(), used = Roi(cx: 100, cy: 100, size: 100, rotation: 0)
        XCTAssertTrue(a.agrees(used: used, found: Roi(cx: 105, cy: 100, size: 120, rotation: 0.1)))
        XCTAssertFalse(a.agrees(used: used, found: Roi(cx: 100, cy: 100, size: 90, rotation: 0)))   // ratio < 0.92
        XCTAssertFalse(a.agrees(used: used, found: Roi(cx: 113, cy: 100, size: 100, rotation: 0)))  // shift > 0.12
    }
}
