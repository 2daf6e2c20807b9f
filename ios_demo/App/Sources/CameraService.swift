import AVFoundation
import UIKit

/// Front-camera capture: session configured and started on a serial queue, 32BGRA frames on a
/// second queue with late frames discarded (processing runs on that queue, so a slow frame makes
/// the camera drop frames instead of queueing them), frames upright and mirrored like the preview.
final class CameraService: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "org.lrdif.demo.session")
    private let videoQueue = DispatchQueue(label: "org.lrdif.demo.video", qos: .userInitiated)
    private let output = AVCaptureVideoDataOutput()
    private var rotationCoordinator: AVCaptureDevice.RotationCoordinator?
    private var configured = false

    /// Called on the video queue with each frame that was not dropped.
    var onFrame: ((CVPixelBuffer, CMTime) -> Void)?

    enum Failure: Error { case denied, noCamera, cannotConfigure }

    func start(completion: @escaping (Error?) -> Void) {
        AVCaptureDevice.requestAccess(for: .video) { granted in
            guard granted else { return completion(Failure.denied) }
            self.sessionQueue.async {
                do {
                    if !self.configured { try self.configure() }
                    self.session.startRunning()
                    completion(nil)
                } catch {
                    completion(error)
                }
            }
        }
    }

    func stop() {
        sessionQueue.async { self.session.stopRunning() }
    }

    private func configure() throws {
        guard let camera = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .front) else {
            throw Failure.noCamera
        }
        let input = try AVCaptureDeviceInput(device: camera)
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        session.sessionPreset = .vga640x480          // the models see 128 / 192 / 64 px crops
        output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: videoQueue)
        guard session.canAddInput(input), session.canAddOutput(output) else { throw Failure.cannotConfigure }
        session.addInput(input)
        session.addOutput(output)
        if let connection = output.connection(with: .video) {
            let coordinator = AVCaptureDevice.RotationCoordinator(device: camera, previewLayer: nil)
            rotationCoordinator = coordinator
            let angle = coordinator.videoRotationAngleForHorizonLevelCapture
            if connection.isVideoRotationAngleSupported(angle) { connection.videoRotationAngle = angle }
            if connection.isVideoMirroringSupported {
                connection.automaticallyAdjustsVideoMirroring = false
                connection.isVideoMirrored = true
            }
        }
        configured = true
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let buffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        onFrame?(buffer, CMSampleBufferGetPresentationTimeStamp(sampleBuffer))
    }
}
