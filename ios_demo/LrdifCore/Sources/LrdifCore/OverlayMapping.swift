import Foundation

/// Maps pipeline-frame pixels onto an overlay view that shows the camera preview: rotation of the
/// frame to the display (clockwise quarter turns), front-camera mirror, and the preview's
/// aspect fill (AVLayerVideoGravity.resizeAspectFill) or fit (.resizeAspect).
public struct OverlayMapping: Equatable {
    public enum Gravity: Equatable { case fill, fit }

    public let frameWidth: Double, frameHeight: Double
    public let viewWidth: Double, viewHeight: Double
    public let rotation: Int          // 0, 90, 180, 270 degrees clockwise, frame -> display
    public let mirrored: Bool         // flip left-right after rotating (front camera preview)
    public let gravity: Gravity

    public init(frameWidth: Double, frameHeight: Double, viewWidth: Double, viewHeight: Double,
                rotation: Int = 0, mirrored: Bool = false, gravity: Gravity = .fill) throws {
        guard frameWidth > 0, frameHeight > 0, viewWidth > 0, viewHeight > 0 else {
            throw LrdifError.invalidInput("overlay mapping needs positive sizes, got frame \(frameWidth)x\(frameHeight), "
                                          + "view \(viewWidth)x\(viewHeight)")
        }
        guard [0, 90, 180, 270].contains(rotation) else {
            throw LrdifError.invalidInput("rotation must be 0, 90, 180 or 270 degrees, got \(rotation)")
        }
        self.frameWidth = frameWidth; self.frameHeight = frameHeight
        self.viewWidth = viewWidth; self.viewHeight = viewHeight
        self.rotation = rotation; self.mirrored = mirrored; self.gravity = gravity
    }

    /// Frame size after rotation (the displayed image's size).
    public var displaySize: (Double, Double) {
        rotation % 180 == 0 ? (frameWidth, frameHeight) : (frameHeight, frameWidth)
    }

    public var scale: Double {
        let (w, h) = displaySize
        return gravity == .fill ? max(viewWidth / w, viewHeight / h) : min(viewWidth / w, viewHeight / h)
    }

    /// A frame point (MediaPipe convention: continuous pixels) -> view point.
    public func map(x: Double, y: Double) -> (Double, Double) {
        let W = frameWidth, H = frameHeight
        var (u, v): (Double, Double)
        switch rotation {
        case 90: (u, v) = (H - y, x)
        case 180: (u, v) = (W - x, H - y)
        case 270: (u, v) = (y, W - x)
        default: (u, v) = (x, y)
        }
        let (dw, dh) = displaySize
        if mirrored { u = dw - u }
        let s = scale
        return (u * s + (viewWidth - dw * s) / 2, v * s + (viewHeight - dh * s) / 2)
    }

    /// A frame box (x, y, w, h) -> the view box (x, y, w, h) enclosing its mapped corners.
    public func map(box b: [Float]) -> (Double, Double, Double, Double) {
        let x = Double(b[0]), y = Double(b[1]), w = Double(b[2]), h = Double(b[3])
        let corners = [map(x: x, y: y), map(x: x + w, y: y), map(x: x, y: y + h), map(x: x + w, y: y + h)]
        let xs = corners.map(\.0), ys = corners.map(\.1)
        return (xs.min()!, ys.min()!, xs.max()! - xs.min()!, ys.max()! - ys.min()!)
    }
}
