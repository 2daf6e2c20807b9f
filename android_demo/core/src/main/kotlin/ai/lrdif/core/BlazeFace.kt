package ai.lrdif.core

import kotlin.math.ceil
import kotlin.math.exp

/** One face detection in frame pixels: box x, y, w, h; score; 6 keypoints (x, y) interleaved; "short" | "full". */
class Detection(val box: FloatArray, val score: Double, val keypoints: FloatArray, val source: String = "short") {
    /** The SDK golden layout: x, y, w, h, score, then 6 keypoints x, y. */
    fun toRow(): FloatArray = box + floatArrayOf(score.toFloat()) + keypoints
}

/** Raw BlazeFace outputs: regressors (N x 16) and classificator logits (N), N = the variant's anchors. */
class DetectorOutput(val regressors: FloatArray, val logits: FloatArray)

/**
 * One BlazeFace variant as MediaPipe's graph configures it (the SDK's `DetectorOptions`): square
 * input size, SSD strides (equal consecutive strides share a feature map), a second interpolated
 * anchor per cell or not, and the graph's own min score.
 */
data class DetectorOptions(
    val name: String,
    val inputSize: Int,
    val strides: IntArray,
    val interpolatedAnchor: Boolean,
    val minScore: Double,
    val anchorOffset: Double = 0.5,
    val iouThreshold: Double = 0.3,
    val scoreClip: Double = 100.0,
) {
    /** (N x 2) anchor centres x, y in [0, 1]. */
    val anchors: FloatArray by lazy { BlazeFace.ssdAnchors(inputSize, strides, anchorOffset, interpolatedAnchor) }
    val numAnchors: Int get() = anchors.size / 2

    override fun equals(other: Any?) = other is DetectorOptions && other.name == name
    override fun hashCode() = name.hashCode()

    companion object {
        /** face_detection_short_range.tflite: 128 px, strides 8/16/16/16, 2 anchors per cell = 896. */
        val SHORT_RANGE = DetectorOptions("short", 128, intArrayOf(8, 16, 16, 16), true, minScore = 0.5)
        /** face_detection_full_range_sparse.tflite: 192 px, stride 4, 1 anchor per cell = 2304. */
        val FULL_RANGE = DetectorOptions("full", 192, intArrayOf(4), false, minScore = 0.6)
    }
}

/**
 * BlazeFace post-processing (port of `lrdif.sdk.face.detector`): letterbox to the input size
 * (zero padding), SSD anchors, box + keypoint decoding, sigmoid score with logits clipped to
 * +-100, MediaPipe's weighted NMS, letterbox removal. Defaults: short range.
 */
object BlazeFace {
    const val INPUT_SIZE = 128
    const val NUM_ANCHORS = 896
    const val NUM_KEYPOINTS = 6
    const val NUM_COORDS = 16

    /** Short-range anchors (896 x 2). */
    val ANCHORS: FloatArray get() = DetectorOptions.SHORT_RANGE.anchors

    fun ssdAnchors(inputSize: Int = INPUT_SIZE, strides: IntArray = intArrayOf(8, 16, 16, 16),
                   offset: Double = 0.5, interpolatedAnchor: Boolean = true): FloatArray {
        val perLayer = if (interpolatedAnchor) 2 else 1
        val out = ArrayList<Float>()
        var i = 0
        while (i < strides.size) {
            var j = i
            var n = 0
            while (j < strides.size && strides[j] == strides[i]) { n += perLayer; j++ }
            val fm = ceil(inputSize.toDouble() / strides[i]).toInt()
            for (y in 0 until fm) for (x in 0 until fm) repeat(n) {
                out.add(((x + offset) / fm).toFloat()); out.add(((y + offset) / fm).toFloat())
            }
            i = j
        }
        return out.toFloatArray()
    }

    /** Letterbox placement: the affine frame -> tensor px and the padded square (x0, y0, side) in frame px. */
    class Letterbox(val affine: Affine, val x0: Double, val y0: Double, val side: Double)

    fun letterbox(width: Int, height: Int, size: Int = INPUT_SIZE): Letterbox {
        val side = maxOf(width, height).toDouble()
        val x0 = width / 2.0 - side / 2.0
        val y0 = height / 2.0 - side / 2.0
        val s = size / side
        return Letterbox(Affine(s, 0.0, -x0 * s, 0.0, s, -y0 * s), x0, y0, side)
    }

    /** The square uint8 detector input (zero-padded letterbox); the float tensor is [ModelInputs.detector]. */
    fun input(frame: RgbImage, opts: DetectorOptions = DetectorOptions.SHORT_RANGE): RgbImage {
        val lb = letterbox(frame.width, frame.height, opts.inputSize)
        return Warp.affine(frame, lb.affine, opts.inputSize, opts.inputSize, Border.CONSTANT_ZERO)
    }

    fun sigmoidClipped(logit: Double, clip: Double = 100.0): Double = 1.0 / (1.0 + exp(-logit.coerceIn(-clip, clip)))

    /** Decode + weighted NMS + letterbox removal: detections in frame px, best first. */
    fun decode(out: DetectorOutput, width: Int, height: Int, minScore: Double,
               opts: DetectorOptions = DetectorOptions.SHORT_RANGE): List<Detection> {
        val na = opts.numAnchors
        if (out.regressors.size != na * NUM_COORDS || out.logits.size != na)
            throw RuntimeOutputException("detector outputs must be ($na, $NUM_COORDS) and ($na,), " +
                "got ${out.regressors.size} and ${out.logits.size} values")
        val keep = (0 until na).filter { sigmoidClipped(out.logits[it].toDouble(), opts.scoreClip) >= minScore }
        if (keep.isEmpty()) return emptyList()
        val n = keep.size
        val boxes = Array(n) { DoubleArray(4) }
        val kps = Array(n) { DoubleArray(2 * NUM_KEYPOINTS) }
        val scores = DoubleArray(n)
        for ((k, a) in keep.withIndex()) {
            val r = DoubleArray(NUM_COORDS) { out.regressors[a * NUM_COORDS + it].toDouble() / opts.inputSize }
            val ax = opts.anchors[2 * a].toDouble()
            val ay = opts.anchors[2 * a + 1].toDouble()
            val cx = r[0] + ax
            val cy = r[1] + ay
            boxes[k] = doubleArrayOf(cx - r[2] / 2, cy - r[3] / 2, cx + r[2] / 2, cy + r[3] / 2)
            for (j in 0 until NUM_KEYPOINTS) {
                kps[k][2 * j] = r[4 + 2 * j] + ax
                kps[k][2 * j + 1] = r[5 + 2 * j] + ay
            }
            scores[k] = sigmoidClipped(out.logits[a].toDouble(), opts.scoreClip)
        }
        val lb = letterbox(width, height, opts.inputSize)
        return WeightedNms.run(boxes, kps, scores, opts.iouThreshold).map { (box, kp, score) ->
            val bx = DoubleArray(4) { box[it] * lb.side + if (it % 2 == 0) lb.x0 else lb.y0 }
            Detection(floatArrayOf(bx[0].toFloat(), bx[1].toFloat(), (bx[2] - bx[0]).toFloat(), (bx[3] - bx[1]).toFloat()),
                score, FloatArray(2 * NUM_KEYPOINTS) { (kp[it] * lb.side + if (it % 2 == 0) lb.x0 else lb.y0).toFloat() }, opts.name)
        }
    }
}

/** MediaPipe's WEIGHTED non-max suppression (port of the SDK's `weighted_nms`). */
object WeightedNms {
    data class Blended(val box: DoubleArray, val keypoints: DoubleArray, val score: Double)

    fun iou(a: DoubleArray, b: DoubleArray): Double {
        val inter = maxOf(minOf(a[2], b[2]) - maxOf(a[0], b[0]), 0.0) * maxOf(minOf(a[3], b[3]) - maxOf(a[1], b[1]), 0.0)
        val union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return if (union > 0) inter / maxOf(union, 1e-12) else 0.0
    }

    /** boxes (N x 4: xmin, ymin, xmax, ymax); best remaining first, blended with every IoU > threshold. */
    fun run(boxes: Array<DoubleArray>, kps: Array<DoubleArray>, scores: DoubleArray, threshold: Double): List<Blended> {
        var order = scores.indices.sortedWith(compareBy<Int> { -scores[it] }.thenBy { it })
        val out = ArrayList<Blended>()
        while (order.isNotEmpty()) {
            val top = order[0]
            var cand = order.filter { iou(boxes[top], boxes[it]) > threshold }
            var rest = order.filter { !(iou(boxes[top], boxes[it]) > threshold) }
            if (cand.isEmpty()) { cand = order.subList(0, 1); rest = order.subList(1, order.size) }
            val tw = cand.sumOf { scores[it] }
            val box = DoubleArray(4) { j -> cand.fold(0.0) { s, i -> s + boxes[i][j] * scores[i] } / tw }
            val kp = DoubleArray(kps[top].size) { j -> cand.fold(0.0) { s, i -> s + kps[i][j] * scores[i] } / tw }
            out.add(Blended(box, kp, scores[top]))
            if (rest.size == order.size) break
            order = rest
        }
        return out
    }
}
