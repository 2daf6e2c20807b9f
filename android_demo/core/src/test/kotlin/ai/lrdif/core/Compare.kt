package ai.lrdif.core

import kotlin.math.abs

/** Largest differences seen over the run, printed by the runner (what "within 1 grey level" measured). */
object Stats {
    val maxDiff = sortedMapOf<String, Double>()
    val count = sortedMapOf<String, Long>()

    fun note(name: String, diff: Double, n: Long = 0) {
        maxDiff[name] = maxOf(maxDiff[name] ?: 0.0, diff)
        count[name] = (count[name] ?: 0) + n
    }
}

object Compare {
    /** |a - e| <= atol + rtol * |e| everywhere (rtol covers float32 rounding of values in the hundreds). */
    fun floats(what: String, expected: FloatArray, actual: FloatArray, atol: Double, rtol: Double = 1e-6, stat: String? = null) {
        if (expected.size != actual.size) throw AssertionError("$what: ${actual.size} values, expected ${expected.size}")
        var worst = 0.0
        for (i in expected.indices) {
            val d = abs(expected[i].toDouble() - actual[i])
            if (!(d <= atol + rtol * abs(expected[i].toDouble())))
                throw AssertionError("$what[$i]: got ${actual[i]}, expected ${expected[i]} (|diff| $d > $atol)")
            worst = maxOf(worst, d)
        }
        stat?.let { Stats.note(it, worst) }
    }

    /** Pixels within [tol] grey levels; records the worst difference and how many pixels differ. */
    fun pixels(what: String, expected: ByteArray, actual: ByteArray, tol: Int = 1, stat: String? = null) {
        if (expected.size != actual.size) throw AssertionError("$what: ${actual.size} bytes, expected ${expected.size}")
        var worst = 0
        var differing = 0L
        for (i in expected.indices) {
            val d = abs((expected[i].toInt() and 0xFF) - (actual[i].toInt() and 0xFF))
            if (d > tol) throw AssertionError("$what: byte $i differs by $d grey levels (> $tol)")
            if (d > 0) differing++
            worst = maxOf(worst, d)
        }
        stat?.let { Stats.note(it, worst.toDouble(), differing); Stats.note("$it (bytes compared)", 0.0, expected.size.toLong()) }
    }
}

/**
 * The app's runtimes replaced by the SDK's recorded calls for one frame: each call's input must
 * match the recorded one (pixels within 1 grey level, ROI and landmarks within 1e-4), and the
 * recorded outputs are returned.
 */
class ReplayRuntime(private val metadata0: ModelMetadata) : FaceRuntime, EmotionRuntime {
    override val metadata: ModelMetadata get() = metadata0
    private var calls: List<GoldenCall> = emptyList()
    private var next = 0
    private var frameName = ""

    fun load(frame: GoldenFrame) {
        calls = frame.calls; next = 0; frameName = frame.name; emotionCall = null
    }

    fun assertAllConsumed() {
        if (next != calls.size) throw AssertionError("$frameName: the core made $next runtime calls, the SDK made ${calls.size}")
        emotionCall?.let {
            throw AssertionError("$frameName: the core classified $emotionRow faces, the SDK ${it.tensors.getValue("crops").shape[0]}")
        }
    }

    private fun take(model: String): GoldenCall {
        if (next >= calls.size) throw AssertionError("$frameName: extra $model call #$next (the SDK made ${calls.size} calls)")
        val c = calls[next++]
        if (c.model != model) throw AssertionError("$frameName: call #${next - 1} is $model, the SDK called ${c.model}")
        return c
    }

    override fun detect(input: RgbImage, detector: DetectorOptions): DetectorOutput {
        // the golden format records short-range calls as "detector" (full range would be "detector_full")
        val c = take(if (detector == DetectorOptions.SHORT_RANGE) "detector" else "detector_${detector.name}")
        Compare.pixels("$frameName detector input", c.tensors.getValue("input").bytes(), input.data,
            stat = "detector input (${detector.inputSize}x${detector.inputSize} letterbox)")
        return DetectorOutput(c.tensors.getValue("regressors").floats(), c.tensors.getValue("logits").floats())
    }

    override fun landmarks(input: RgbImage, roi: Roi): LandmarkerOutput {
        val c = take("landmarker")
        val r = c.roi!!
        Compare.floats("$frameName ROI", floatArrayOf(r[0].toFloat(), r[1].toFloat(), r[2].toFloat(), r[3].toFloat()),
            floatArrayOf(roi.cx.toFloat(), roi.cy.toFloat(), roi.size.toFloat(), roi.rotation.toFloat()), 1e-4, stat = "ROI")
        Compare.pixels("$frameName landmarker input", c.tensors.getValue("input").bytes(), input.data, stat = "landmarker input (192x192 ROI crop)")
        return LandmarkerOutput(c.tensors.getValue("landmarks").floats(), c.tensors.getValue("presence_logit").floats()[0])
    }

    // The SDK records one "emotion" call per frame: its backend's run(), which splits the faces into
    // chunks for a fixed-batch model itself (metadata.batch, e.g. 1 for the shipped .tflite), padding
    // the last chunk by repeating its last face. The core chunks before calling its runtime, so each
    // of its calls replays the next rows of that recorded call (padding rows: the chunk's last face).
    private var emotionCall: GoldenCall? = null
    private var emotionRow = 0

    override fun logits(batch: EmotionBatch): FloatArray {
        val c = emotionCall ?: take("emotion").also { emotionCall = it; emotionRow = 0 }
        val crops = c.tensors.getValue("crops")
        val n = crops.shape[0]
        val real = minOf(batch.crops.size, n - emotionRow)
        if (real <= 0) throw AssertionError("$frameName: the core sent more emotion rows than the SDK's $n")
        val rows = IntArray(batch.crops.size) { emotionRow + minOf(it, real - 1) }
        val where = if (real == n) frameName else "$frameName rows ${emotionRow}..${emotionRow + real - 1} of $n"
        emotionRow += real
        if (emotionRow == n) emotionCall = null
        fun bytes(t: Tensor): ByteArray {
            val all = t.bytes(); val w = all.size / n
            return rows.fold(ByteArray(0)) { a, r -> a + all.copyOfRange(r * w, (r + 1) * w) }
        }
        fun floats(t: Tensor): FloatArray {
            val all = t.floats(); val w = all.size / n
            return rows.fold(FloatArray(0)) { a, r -> a + all.copyOfRange(r * w, (r + 1) * w) }
        }
        Compare.pixels("$where emotion crops", bytes(crops), batch.crops.fold(ByteArray(0)) { a, im -> a + im.data },
            stat = "emotion crops (64x64)")
        // one grey level of a crop pixel is 1 / (255 std) in the model input
        val tol = 1.0 / (255.0 * metadata.std.min()) + 1e-5
        Compare.floats("$where emotion image input", floats(c.tensors.getValue("image")), batch.image, tol, stat = "emotion image input")
        Compare.floats("$where emotion landmarks input", floats(c.tensors.getValue("landmarks")), batch.landmarks, 1e-4,
            stat = "emotion landmarks input")
        return floats(c.tensors.getValue("logits"))
    }
}
