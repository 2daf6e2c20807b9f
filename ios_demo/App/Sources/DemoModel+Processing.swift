import CoreMedia
import Foundation
import LrdifCore
import UIKit

extension DemoModel {
    /// Camera frame (video queue): VIDEO-mode step with tracking and smoothing.
    func process(_ buffer: CVPixelBuffer, _ time: CMTime) {
        guard !isStillMode else { return }
        let ms = Int((CMTimeGetSeconds(time) * 1000).rounded())
        run { rec in
            let rgb = try FrameConversion.rgb(from: buffer)
            return (try rec.video.predictForVideo(rgb, timestampMs: ms), rgb.width, rgb.height)
        } done: { results, w, h in
            Frame(results: results, width: Double(w), height: Double(h), still: nil)
        }
    }

    /// Still photo: IMAGE-mode prediction, shown instead of the camera until cleared.
    func analyse(photo: UIImage) {
        setStillMode(true)
        work.async {
            self.run { rec in
                let rgb = try FrameConversion.rgb(from: photo)
                return (try rec.still.predict(rgb), rgb.width, rgb.height)
            } done: { results, w, h in
                Frame(results: results, width: Double(w), height: Double(h), still: photo)
            }
        }
    }

    /// Back to the camera: tracks start afresh.
    func clearPhoto() {
        work.async {
            self.withRecognizers { $0.video.reset() }
            self.setStillMode(false)
            DispatchQueue.main.async { self.frame = Frame() }
        }
    }
}
