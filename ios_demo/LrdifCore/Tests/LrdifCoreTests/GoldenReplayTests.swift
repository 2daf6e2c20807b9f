import Foundation
import XCTest
@testable import LrdifCore

/// The core's whole pipeline on the SDK's golden frames, model calls replayed.
final class GoldenReplayTests: XCTestCase {
    struct FrameRun {
        let golden: GoldenFrame
        let results: [EmotionResult]
        let detections: [Detection]
    }

    static var cached: (Golden, [String: [FrameRun]], ReplayRuntime)?

    /// Runs every case once (shared by the tests below).
    func run() throws -> (Golden, [String: [FrameRun]], ReplayRuntime) {
        if let c = Self.cached { return c }
        guard let golden = try Golden.load() else {
            throw XCTSkip("no golden vectors at \(TestPaths.golden.path) (python -m lrdif.sdk.golden DIR)")
        }
        let replay = ReplayRuntime()
        replay.imageStep = Float(1.0 / (255.0 * golden.metadata.std[0]))
        var options = RecognizerOptions()
        let r = golden.recognizer
        options.maxFaces = Int(num(r["max_faces"]) ?? 4)
        options.smoothing = num(r["smoothing"]) ?? 0.6
        options.redetectInterval = Int(num(r["redetect_interval"]) ?? 10)
        options.minDetectionConfidence = num((golden.index["detector"] as? [String: Any])?["min_score"]) ?? 0.5
        options.minPresenceConfidence = num((golden.index["landmarker"] as? [String: Any])?["min_presence"]) ?? 0.5
        options.faceDetector = FaceDetectorMode(rawValue: r["face_detector"] as? String ?? "auto") ?? .auto
        var out: [String: [FrameRun]] = [:]
        for c in golden.cases {
            let rec = try EmotionRecognizer(runtime: replay, metadata: golden.metadata, options: options)
            var dets: [Detection] = []
            rec.frontEnd.roiObserver = { replay.checkRoi($0) }
            rec.frontEnd.detectionObserver = { dets += $0 }
            var runs: [FrameRun] = []
            for f in c.frames {
                replay.load(f)
                dets = []
                let res = c.mode == "video" ? try rec.predictForVideo(f.frame, timestampMs: f.timestampMs ?? 0)
                                            : try rec.predict(f.frame)
                if !replay.finished { replay.problems.append("\(f.name): the core made \(replay.next) of \(f.calls.count) calls") }
                runs.append(FrameRun(golden: f, results: res, detections: dets))
            }
            out[c.name] = runs
        }
        Self.cached = (golden, out, replay)
        return (golden, out, replay)
    }

    func allFrames() throws -> [FrameRun] {
        let (g, runs, _) = try run()
        return g.cases.flatMap { runs[$0.name] ?? [] }
    }

    func testGoldenCoversImageAndVideoCases() throws {
        let (g, _, _) = try run()
        XCTAssertTrue(g.cases.contains { $0.mode == "image" })
        XCTAssertTrue(g.cases.contains { $0.mode == "video" && $0.frames.count > 1 })
        XCTAssertEqual(g.metadata.numClasses, 8)
    }

    func testReplayedCallsAndInputsMatchTheSDK() throws {
        let (_, _, replay) = try run()
        XCTAssertEqual(replay.problems, [], replay.problems.joined(separator: "\n"))
        print("golden: max input difference in grey levels \(replay.maxGrey), max float difference \(replay.maxFloat)")
    }

    func testDetectionsMatch() throws {
        for run in try allFrames() {
            let want = run.golden.detections.floats
            let got: [Float] = run.detections.flatMap { (d: Detection) -> [Float] in d.box + [d.score] + d.keypoints }
            XCTAssertEqual(got.count, want.count, "\(run.golden.name): \(run.detections.count) detections")
            XCTAssertLessThanOrEqual(maxDiff(got, want), 1e-4, "\(run.golden.name) detections")
        }
    }

    func testLandmarksBoxesAndAffinesMatch() throws {
        var worst: [String: Double] = [:]
        for run in try allFrames() {
            let f = run.golden.faces, name = run.golden.name
            XCTAssertEqual(run.results.count, f["boxes"]!.shape[0], "\(name): face count")
            guard run.results.count == f["boxes"]!.shape[0] else { continue }
            let boxes: [Float] = run.results.flatMap { $0.box }
            let landmarks: [Float] = run.results.flatMap { $0.face.landmarks }
            let presence: [Float] = run.results.map { Float($0.face.presence) }
            let affines: [Float] = run.results.flatMap { (r: EmotionResult) -> [Float] in r.face.affine.m.map { Float($0) } }
            let cropLandmarks: [Float] = run.results.flatMap { $0.face.cropLandmarks }
            for (key, got) in [("boxes", boxes), ("landmarks", landmarks), ("presence", presence), ("affines", affines),
                               ("crop_landmarks", cropLandmarks)] {
                let d = maxDiff(got, f[key]!.floats)
                worst[key] = max(worst[key] ?? 0, d)
                XCTAssertLessThanOrEqual(d, 1e-4, "\(name) \(key)")
            }
        }
        print("golden: max |core - SDK| \(worst)")
    }

    func testCropsWithinOneGreyLevel() throws {
        var worst = 0, n = 0
        for run in try allFrames() {
            let want = run.golden.faces["crops"]!.bytes
            let got = run.results.flatMap(\.face.crop.pixels)
            XCTAssertEqual(got.count, want.count, "\(run.golden.name) crop size")
            for (a, b) in zip(got, want) { worst = max(worst, abs(Int(a) - Int(b))) }
            n += run.results.count
        }
        XCTAssertGreaterThan(n, 0)
        XCTAssertLessThanOrEqual(worst, 1, "crops differ from the SDK by \(worst) grey levels")
        print("golden: \(n) crops, max difference \(worst) grey level(s)")
    }

    func testProbabilitiesAndLabelsMatch() throws {
        var worst = 0.0
        for run in try allFrames() {
            let want = run.golden.faces["probabilities"]!.floats
            let d = maxDiff(run.results.flatMap(\.probabilities), want)
            worst = max(worst, d)
            XCTAssertLessThanOrEqual(d, 1e-5, "\(run.golden.name) probabilities")
            XCTAssertEqual(run.results.map(\.label), run.golden.labels, "\(run.golden.name) labels")
            XCTAssertEqual(run.results.map(\.quality), run.golden.quality, "\(run.golden.name) quality")
        }
        print("golden: max probability difference \(worst)")
    }

    func testTrackIdsOverTheSequence() throws {
        let (g, runs, _) = try run()
        for c in g.cases {
            for run in runs[c.name] ?? [] {
                let want = run.golden.faces["face_ids"]!.ints
                let got = run.results.map { $0.faceId ?? -1 }
                XCTAssertEqual(got, want, "\(run.golden.name) face ids")
            }
        }
    }

    func maxDiff(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
    }
}

/// The emotion-model input and probabilities from the SDK's own recorded crops and logits
/// (independent of the crop warp's last-bit differences).
final class GoldenModelIOTests: XCTestCase {
    func testModelInputsAndSoftmaxFromRecordedTensors() throws {
        guard let g = try Golden.load() else { throw XCTSkip("no golden vectors at \(TestPaths.golden.path)") }
        var n = 0
        for c in g.cases {
            for f in c.frames {
                for call in f.calls where call.model == "emotion" {
                    let crops = call.tensors["crops"]!, s = crops.shape[1], size = s * s * 3
                    let imgs = try (0..<crops.shape[0]).map {
                        try RGBImage(width: s, height: s, pixels: Array(crops.bytes[($0 * size)..<(($0 + 1) * size)]))
                    }
                    let x = try EmotionIO.preprocess(imgs, metadata: g.metadata)
                    let want = call.tensors["image"]!.floats
                    XCTAssertEqual(x.count, want.count)
                    XCTAssertLessThanOrEqual(zip(x, want).map { abs($0 - $1) }.max() ?? 0, 1e-6, "\(f.name) model input")
                    let p = EmotionIO.softmax(call.tensors["logits"]!.floats, classes: g.metadata.numClasses,
                                              temperature: g.metadata.temperature)
                    let pw = call.tensors["probabilities"]!.floats
                    XCTAssertLessThanOrEqual(zip(p, pw).map { abs($0 - $1) }.max() ?? 1, 1e-6, "\(f.name) softmax")
                    n += 1
                }
            }
        }
        XCTAssertGreaterThan(n, 0)
    }
}
