import PhotosUI
import SwiftUI

/// Live front camera with the overlay; a photo picker for still-image mode; the CoreML variant
/// (fp32 / int8 weights) picker and the inference-time readout.
struct ContentView: View {
    @EnvironmentObject var model: DemoModel
    @State private var pick: PhotosPickerItem?

    var body: some View {
        ZStack {
            if let photo = model.frame.still {
                Color.black.ignoresSafeArea()
                Image(uiImage: photo).resizable().scaledToFit()
            } else {
                CameraPreview(session: model.camera.session, running: model.running).ignoresSafeArea()
            }
            if model.frame.still == nil {     // the preview fills the whole screen, safe areas included
                OverlayView(frame: model.frame, labels: model.labelNames).ignoresSafeArea()
            } else {
                OverlayView(frame: model.frame, labels: model.labelNames)
            }
            VStack {
                Spacer()
                controls
            }
        }
        .onAppear { model.startCamera() }
        .onDisappear { model.camera.stop() }
        .onChange(of: pick) { _, item in load(item) }
    }

    private var controls: some View {
        VStack(spacing: 8) {
            Text(model.timing).font(.caption.monospacedDigit())
            Text(model.status).font(.caption2).lineLimit(2)
            HStack {
                Picker("Model", selection: $model.variant) {
                    ForEach(EmotionModelCoreML.Variant.allCases) { Text($0.title).tag($0) }
                }
                .pickerStyle(.segmented)
                PhotosPicker(selection: $pick, matching: .images) { Image(systemName: "photo") }
                if model.frame.still != nil {
                    Button { pick = nil; model.clearPhoto() } label: { Image(systemName: "camera") }
                }
            }
        }
        .padding()
        .background(.ultraThinMaterial)
        .foregroundColor(.primary)
    }

    private func load(_ item: PhotosPickerItem?) {
        guard let item else { return }
        Task {
            if let data = try? await item.loadTransferable(type: Data.self), let image = UIImage(data: data) {
                model.analyse(photo: image)
            } else {
                model.publish(status: "cannot read that photo")
            }
        }
    }
}
