import Foundation
import XCTest
@testable import LrdifCore

/// Warp, crop affine, model input, softmax and overlay mapping on small known cases.
final class ImageOpsTests: XCTestCase {
    func image(_ w: Int, _ h: Int, _ f: (Int, Int) -> UInt8) throws -> RGBImage {
        var p: [UInt8] = []
        for y in 0..<h { for x in 0..<w { let v = f(x, y); p += [v, v, v] } }
        return try RGBImage(width: w, height: h, pixels: p)
    }

    func testWarpIdentityHalfPixelAndBorders() throws {
        let img = try image(4, 3) { x, y in UInt8(10 * x + 50 * y) }
        XCTAssertEqual(try warpAffine(img, Affine2D([1, 0, 0, 0, 1, 0]), width: 4, height: 3, border: .zero), img)
        // output x samples source x + 0.5: the mean of two neighbours, rounded half up
        let half = try warpAffine(img, Affine2D([1, 0, -0.5, 0, 1, 0]), width: 4, height: 1, border: .replicate)
        XCTAssertEqual(stride(from: 0, to: 12, by: 3).map { half.pixels[$0] }, [5, 15, 25, 30])
        let zero = try warpAffine(img, Affine2D([1, 0, -0.5, 0, 1, 0]), width: 4, height: 1, border: .zero)
        XCTAssertEqual(zero.pixels[9], 15, "half of the last pixel, half of the zero border")
    }

    func testCropAffineLevelsTheEyes() throws {
        var lm = [Float](repeating: 0, count: 468 * 3)
        for i in 0..<468 {   // a tilted square of points around (100, 80)
            let a = Double(i) / 468 * 2 * .pi
            lm[3 * i] = Float(100 + 30 * cos(a)); lm[3 * i + 1] = Float(80 + 30 * sin(a))
        }
        lm[3 * 33] = 70; lm[3 * 33 + 1] = 70; lm[3 * 263] = 130; lm[3 * 263 + 1] = 90
        let spec = CropSpec()
        let m = try EmotionCrop.affine(landmarks: lm, spec: spec)
        let cl = try EmotionCrop.cropLandmarks(lm, affine: m, size: spec.size)
        XCTAssertEqual(cl[2 * 33 + 1], cl[2 * 263 + 1], accuracy: 1e-5, "outer eye corners level in the crop")
        XCTAssertTrue(cl.allSatisfy { $0 > 0 && $0 < 1 }, "all landmarks inside the crop")
    }

    func testPreprocessLayoutsAndColourOrder() throws {
        let crop = try RGBImage(width: 8, height: 8, pixels: (0..<192).map { UInt8($0 % 3 == 0 ? 255 : 0) })
        var md = ModelMetadata()
        md.inputSize = 8; md.crop.size = 8
        let nchw = try EmotionIO.preprocess([crop], metadata: md)
        XCTAssertEqual(nchw[0], 1); XCTAssertEqual(nchw[64], -1)              // R plane then G plane
        md.inputLayout = "NHWC"; md.colourOrder = "BGR"
        let nhwc = try EmotionIO.preprocess([crop], metadata: md)
        XCTAssertEqual(Array(nhwc[0..<3]), [-1, -1, 1])                      // B, G, R of the first pixel
        XCTAssertEqual(EmotionIO.imageShape(count: 2, metadata: md), [2, 8, 8, 3])
    }

    func testSoftmaxWithTemperature() {
        let p1 = EmotionIO.softmax([1, 2, 3], classes: 3)
        XCTAssertEqual(Double(p1.reduce(0, +)), 1, accuracy: 1e-6)
        let p2 = EmotionIO.softmax([1, 2, 3], classes: 3, temperature: 2)
        let e = [0.5, 1.0, 1.5].map { exp($0) }, s = e.reduce(0, +)
        for i in 0..<3 { XCTAssertEqual(Double(p2[i]), e[i] / s, accuracy: 1e-7) }
        XCTAssertLessThan(p2[2], p1[2], "a higher temperature flattens the distribution")
    }

    func testOverlayMappingRotationMirrorFillFit() throws {
        // 640x480 landscape buffer shown rotated 90 degrees into a 240x320 portrait view
        let m = try OverlayMapping(frameWidth: 640, frameHeight: 480, viewWidth: 240, viewHeight: 320, rotation: 90)
        let (x, y) = m.map(x: 0, y: 0)
        XCTAssertEqual(x, 240, accuracy: 1e-9); XCTAssertEqual(y, 0, accuracy: 1e-9)   // top-left -> top-right
        let mirrored = try OverlayMapping(frameWidth: 480, frameHeight: 640, viewWidth: 240, viewHeight: 320, mirrored: true)
        XCTAssertEqual(mirrored.map(x: 0, y: 0).0, 240, accuracy: 1e-9)
        let fill = try OverlayMapping(frameWidth: 400, frameHeight: 400, viewWidth: 200, viewHeight: 100, gravity: .fill)
        XCTAssertEqual(fill.map(x: 200, y: 0).1, -50, accuracy: 1e-9)                // cropped top and bottom
        let fit = try OverlayMapping(frameWidth: 400, frameHeight: 400, viewWidth: 200, viewHeight: 100, gravity: .fit)
        XCTAssertEqual(fit.map(x: 0, y: 0).0, 50, accuracy: 1e-9)                    // pillar-boxed
        let b = fit.map(box: [100, 100, 200, 100])
        XCTAssertEqual(b.2, 50, accuracy: 1e-9); XCTAssertEqual(b.3, 25, accuracy: 1e-9)
        XCTAssertThrowsError(try OverlayMapping(frameWidth: 1, frameHeight: 1, viewWidth: 1, viewHeight: 1, rotation: 45))
    }
}
