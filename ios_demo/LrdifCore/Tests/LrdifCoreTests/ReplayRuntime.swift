import Foundation
import XCTest
@testable import LrdifCore

/// A runtime that replays one golden frame's recorded model calls in order: it checks each input
/// the core computed against the recorded one and returns the recorded outputs.
final class ReplayRuntime: LrdifRuntime {
    var calls: [GoldenCall] = []
    var next = 0
    var frameName = ""
    /// Problems found (wrong call order, inputs off by more than the tolerances).
    var problems: [String] = []
    /// Largest |core - SDK| seen, in grey levels for images and in value for landmarks / ROIs.
    var maxGrey: [String: Double] = [:]
    var maxFloat: [String: Double] = [:]

    func load(_ frame: GoldenFrame) {
        calls = frame.calls
        next = 0
        frameName = frame.name
        emotionCall = nil
    }

    /// Every recorded call made, and all faces of the last emotion call classified.
    var finished: Bool { next == calls.count && emotionCall == nil }

    func pop(_ model: String) throws -> GoldenCall {
        guard next < calls.count else {
            throw LrdifError.runtime("\(frameName): the core made an extra \(model) call (SDK made \(calls.count) calls)")
        }
        let c = calls[next]
        next += 1
        guard c.model == model else {
            throw LrdifError.runtime("\(frameName): call \(next - 1) is \(model) in the core but \(c.model) in the SDK")
        }
        return c
    }

    /// Compare a float image input with the recorded uint8 one through `toFloat`; `step` is one grey level.
    func compareImage(_ key: String, _ got: [Float], _ want: Tensor, step: Float, toFloat: (UInt8) -> Float) {
        let ref = want.bytes
        guard got.count == ref.count else {
            problems.append("\(frameName) \(key): \(got.count) values, SDK \(ref.count)")
            return
        }
        var worst = 0.0
        for i in 0..<ref.count { worst = max(worst, Double(abs(got[i] - toFloat(ref[i])) / step)) }
        maxGrey[key] = max(maxGrey[key] ?? 0, worst)
        if worst > 1.0 + 1e-3 { problems.append("\(frameName) \(key): input off by \(worst) grey levels (> 1)") }
    }

    func compareFloats(_ key: String, _ got: [Float], _ want: [Float], tol: Double) {
        guard got.count == want.count else {
            problems.append("\(frameName) \(key): \(got.count) values, SDK \(want.count)")
            return
        }
        let worst = zip(got, want).map { Double(abs($0 - $1)) }.max() ?? 0
        maxFloat[key] = max(maxFloat[key] ?? 0, worst)
        if worst > tol { problems.append("\(frameName) \(key): off by \(worst) (> \(tol))") }
    }

    /// Installed as the front-end's ROI observer: the next recorded call must be this ROI's landmarker call.
    func checkRoi(_ roi: Roi) {
        guard next < calls.count, let want = calls[next].roi else { return }
        let got: [Double] = [roi.cx, roi.cy, roi.size, roi.rotation]
        compareFloats("roi", got.map { Float($0) }, want.map { Float($0) }, tol: 1e-4)
    }

    /// Short range replays the "detector" calls; full range would be "detector_full" (the golden
    /// frames are selfie-distance, so the SDK's auto mode never ran full range on them).
    func detect(_ input: [Float], detector: DetectorOptions) throws -> (regressors: [Float], logits: [Float]) {
        let c = try pop(detector == .shortRange ? "detector" : "detector_full")
        compareImage("detector input", input, c.tensors["input"]!, step: 2.0 / 255.0) { (v: UInt8) -> Float in Float(v) * Float(2.0 / 255.0) - 1.0 }
        return (c.tensors["regressors"]!.floats, c.tensors["logits"]!.floats)
    }

    func landmarks(_ input: [Float]) throws -> (points: [Float], presenceLogit: Float) {
        let c = try pop("landmarker")
        compareImage("landmarker input", input, c.tensors["input"]!, step: 1.0 / 255.0) { (v: UInt8) -> Float in Float(v) / 255 }
        return (c.tensors["landmarks"]!.floats, c.tensors["presence_logit"]!.floats[0])
    }

    var emotionImages: [[Float]] = []
    /// One grey level of the crop in model-input units: 1 / (255 * std).
    var imageStep: Float = 2.0 / 255.0

    /// The SDK records one "emotion" call per frame: its backend's run(), which splits the faces into
    /// chunks for a fixed-batch model itself (metadata.batch, e.g. 1 for the shipped .tflite), padding the
    /// last chunk by repeating its last face. The core chunks before calling its runtime, so each of its
    /// calls replays the next rows of that recorded call (padding rows: the chunk's last face).
    var emotionCall: GoldenCall?
    var emotionRow = 0

    func emotion(image: [Float], imageShape: [Int], landmarks: [Float]) throws -> [Float] {
        let c: GoldenCall
        if let pending = emotionCall { c = pending } else { c = try pop("emotion"); emotionCall = c; emotionRow = 0 }
        let want = c.tensors["image"]!
        let n = want.shape.first ?? 0, rowsSent = imageShape.first ?? 0
        let real = min(rowsSent, n - emotionRow)
        guard real > 0 else { throw LrdifError.runtime("\(frameName): the core sent more emotion rows than the SDK's \(n)") }
        let rows = (0..<rowsSent).map { emotionRow + min($0, real - 1) }
        emotionRow += real
        if emotionRow == n { emotionCall = nil }
        func gather(_ all: [Float]) -> [Float] {
            let w = all.count / n
            return rows.flatMap { all[($0 * w)..<(($0 + 1) * w)] }
        }
        if Array(imageShape.dropFirst()) != Array(want.shape.dropFirst()) {
            problems.append("\(frameName) emotion image shape \(imageShape) != SDK \(want.shape) (per face)")
        }
        let ref = gather(want.floats)
        var worst = 0.0
        for i in 0..<min(ref.count, image.count) { worst = max(worst, Double(abs(image[i] - ref[i]) / imageStep)) }
        maxGrey["emotion image"] = max(maxGrey["emotion image"] ?? 0, worst)
        if worst > 1.0 + 1e-3 || ref.count != image.count {
            problems.append("\(frameName) emotion image: off by \(worst) grey levels or size \(image.count) != \(ref.count)")
        }
        compareFloats("emotion landmarks", landmarks, gather(c.tensors["landmarks"]!.floats), tol: 1e-4)
        emotionImages.append(image)
        return gather(c.tensors["logits"]!.floats)
    }
}
