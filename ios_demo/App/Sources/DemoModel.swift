import AVFoundation
import Foundation
import LrdifCore
import UIKit

/// App state: loads the models, runs LrdifCore's recognizer on camera frames (VIDEO mode, on the
/// camera's video queue) or on a still photo (IMAGE mode), publishes results and timings.
final class DemoModel: ObservableObject {
    struct Frame {
        var results: [EmotionResult] = []
        var width = 1.0, height = 1.0
        var still: UIImage?
    }

    @Published var frame = Frame()
    @Published var status = "starting"
    @Published var timing = ""
    @Published var running = false
    @Published var labelNames: [String] = []     // the loaded model's labels (metadata order)
    @Published var variant = EmotionModelCoreML.Variant.int8 { didSet { reload() } }

    let camera = CameraService()
    let work = DispatchQueue(label: "org.lrdif.demo.still", qos: .userInitiated)
    private let lock = NSLock()
    /// True while a still photo is shown (camera frames are skipped); guarded by `lock`.
    private var stillMode = false
    private var runtime: AppRuntime?
    private var video: EmotionRecognizer?
    private var still: EmotionRecognizer?
    private var faces: FaceModelsLiteRT?

    init() {
        camera.onFrame = { [weak self] buffer, time in self?.process(buffer, time) }
        reload()
    }

    /// (Re)load the emotion model variant; the face models are loaded once.
    func reload() {
        lock.lock()
        defer { lock.unlock() }
        do {
            if faces == nil { faces = try FaceModelsLiteRT() }
            let rt = AppRuntime(faces: faces!, emotion: try EmotionModelCoreML(variant))
            runtime = rt
            var options = RecognizerOptions()               // the SDK's defaults (auto detector, box sanity)
            if !faces!.hasFullRange { options.faceDetector = .short }
            video = try EmotionRecognizer(runtime: rt, metadata: rt.emotionModel.metadata, options: options)
            still = try EmotionRecognizer(runtime: rt, metadata: rt.emotionModel.metadata, options: options)
            let md = rt.emotionModel.metadata
            publish(status: "\(variant.title): \(md.modelName) \(md.modelVersion), quantisation \(md.quantisation)")
            DispatchQueue.main.async { self.labelNames = md.labels }
        } catch {
            runtime = nil; video = nil; still = nil
            publish(status: "cannot load models: \(error)")
        }
    }

    func startCamera() {
        camera.start { [weak self] error in
            DispatchQueue.main.async {
                self?.running = error == nil
                if let error { self?.status = "camera: \(error)" }
            }
        }
    }

    struct Recognizers {
        let video: EmotionRecognizer
        let still: EmotionRecognizer
        let runtime: AppRuntime
    }

    /// Runs `body` with the recognizers under the lock (nil when the models are not loaded).
    @discardableResult
    func withRecognizers<T>(_ body: (Recognizers) throws -> T) rethrows -> T? {
        lock.lock()
        defer { lock.unlock() }
        guard let runtime, let video, let still else { return nil }
        return try body(Recognizers(video: video, still: still, runtime: runtime))
    }

    func setStillMode(_ on: Bool) {
        lock.lock()
        stillMode = on
        lock.unlock()
    }

    var isStillMode: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stillMode
    }

    /// One pipeline run with the timing readout; results published on the main queue.
    func run(_ body: (Recognizers) throws -> ([EmotionResult], Int, Int),
             done: @escaping ([EmotionResult], Int, Int) -> Frame) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            guard let out = try withRecognizers({ r -> ([EmotionResult], Int, Int, Double, Double) in
                r.runtime.resetTimers()
                let (res, w, h) = try body(r)
                return (res, w, h, r.runtime.faceSeconds, r.runtime.emotionSeconds)
            }) else { return }
            let (results, w, h, face, emotion) = out
            let total = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            let text = String(format: "face models %.1f ms · emotion %.1f ms · whole frame %.1f ms",
                              face * 1000, emotion * 1000, total)
            DispatchQueue.main.async {
                self.frame = done(results, w, h)
                self.timing = text
            }
        } catch {
            publish(status: "\(error)")
        }
    }

    func publish(status: String) {
        DispatchQueue.main.async { self.status = status }
    }
}

