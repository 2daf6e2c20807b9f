import LrdifCore
import SwiftUI

/// Boxes, labels and probability bars over the preview (or the still photo), placed with
/// LrdifCore's OverlayMapping: frames arrive upright and already mirrored like the preview, so
/// the mapping has no rotation or mirror, only the preview's aspect fill (photos: aspect fit).
struct OverlayView: View {
    let frame: DemoModel.Frame
    let labels: [String]

    var body: some View {
        GeometryReader { geo in
            if let mapping = try? OverlayMapping(frameWidth: frame.width, frameHeight: frame.height,
                                                 viewWidth: geo.size.width, viewHeight: geo.size.height,
                                                 gravity: frame.still == nil ? .fill : .fit) {
                ForEach(frame.results.indices, id: \.self) { i in
                    faceBox(frame.results[i], mapping)
                }
            }
        }
        .allowsHitTesting(false)
    }

    private func faceBox(_ r: EmotionResult, _ m: OverlayMapping) -> some View {
        let (x, y, w, h) = m.map(box: r.box)
        return Rectangle()
            .stroke(Color.green, lineWidth: 2)
            .frame(width: w, height: h)
            .overlay(alignment: .topLeading) { label(r).fixedSize().offset(y: h + 4) }
            .position(x: x + w / 2, y: y + h / 2)
    }

    private func label(_ r: EmotionResult) -> some View {
        VStack(alignment: .leading, spacing: 1) {
            Text("\(r.faceId.map { "#\($0) " } ?? "")\(r.label) \(Int((r.confidence * 100).rounded()))%")
                .font(.caption.bold())
            ForEach(0..<min(labels.count, r.probabilities.count), id: \.self) { k in
                HStack(spacing: 4) {
                    Text(labels[k]).font(.system(size: 9)).frame(width: 58, alignment: .leading)
                    Rectangle().fill(Color.green).frame(width: CGFloat(r.probabilities[k]) * 60, height: 5)
                }
            }
        }
        .padding(4)
        .background(Color.black.opacity(0.55))
        .foregroundColor(.white)
    }
}
