import AVFoundation
import SwiftUI

/// The live preview (AVCaptureVideoPreviewLayer, aspect fill; the layer mirrors the front camera).
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession
    let running: Bool            // re-evaluated when the session starts: its connection exists then

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let v = PreviewView()
        v.previewLayer.session = session
        v.previewLayer.videoGravity = .resizeAspectFill
        orient(v)
        return v
    }

    func updateUIView(_ uiView: PreviewView, context: Context) { orient(uiView) }

    private func orient(_ v: PreviewView) {
        if let c = v.previewLayer.connection, c.isVideoRotationAngleSupported(90), c.videoRotationAngle != 90 {
            c.videoRotationAngle = 90               // portrait UI
        }
    }
}
