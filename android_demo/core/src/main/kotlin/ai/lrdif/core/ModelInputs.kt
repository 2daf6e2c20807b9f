package ai.lrdif.core

import kotlin.math.exp

/** Float tensors fed to the three models, and the probabilities read from the emotion logits. */
object ModelInputs {
    /** BlazeFace input (1, 128, 128, 3) NHWC in [-1, 1]: u8 * 2/255 - 1 (float32 math, as the SDK). */
    fun detector(input: RgbImage): FloatArray {
        val k = 2.0f / 255.0f
        return FloatArray(input.data.size) { (input.data[it].toInt() and 0xFF) * k - 1.0f }
    }

    /** FaceMesh input (1, 192, 192, 3) NHWC in [0, 1]: u8 / 255. */
    fun landmarker(input: RgbImage): FloatArray {
        val k = 1.0f / 255.0f
        return FloatArray(input.data.size) { (input.data[it].toInt() and 0xFF) * k }
    }

    /**
     * Emotion-model image input for a batch of S x S crops: (pixel/255 - mean)/std computed as
     * pixel * (1 / (255 std)) + (-mean / std) in float32 (the SDK's `Backend.preprocess`), colour
     * order and layout (NCHW / NHWC) from the metadata.
     */
    fun emotion(crops: List<RgbImage>, meta: ModelMetadata): FloatArray {
        val s = meta.inputSize
        val scale = FloatArray(3) { 1.0f / (255.0f * meta.std[it].toFloat()) }
        val offset = FloatArray(3) { -meta.mean[it].toFloat() / meta.std[it].toFloat() }
        val bgr = meta.colourOrder == "BGR"
        val nchw = meta.inputLayout == "NCHW"
        val out = FloatArray(crops.size * 3 * s * s)
        for ((n, crop) in crops.withIndex()) {
            if (crop.width != s || crop.height != s)
                throw InvalidFrameException("crops must be ($s, $s, 3), got (${crop.height}, ${crop.width}, 3)")
            for (y in 0 until s) for (x in 0 until s) for (c in 0 until 3) {
                val src = crop.get(x, y, if (bgr) 2 - c else c)
                val v = src * scale[c] + offset[c]
                val i = if (nchw) ((n * 3 + c) * s + y) * s + x else ((n * s + y) * s + x) * 3 + c
                out[i] = v
            }
        }
        return out
    }

    /** softmax(logits / temperature) per row of [k] classes, in double, returned as float32. */
    fun softmax(logits: FloatArray, k: Int, temperature: Double = 1.0): FloatArray {
        if (k <= 0 || logits.size % k != 0)
            throw RuntimeOutputException("logits hold ${logits.size} values, not a multiple of $k classes")
        if (!logits.all { it.isFinite() }) throw RuntimeOutputException("the model produced NaN/inf outputs")
        val out = FloatArray(logits.size)
        for (r in 0 until logits.size / k) {
            val z = DoubleArray(k) { logits[r * k + it].toDouble() / temperature }
            val m = z.max()
            val e = DoubleArray(k) { exp(z[it] - m) }
            val sum = e.sum()
            for (j in 0 until k) out[r * k + j] = (e[j] / sum).toFloat()
        }
        return out
    }
}
