package ai.lrdif.core

/**
 * The three model calls of the pipeline. The app implements it with LiteRT interpreters; tests
 * replay the SDK's recorded calls. Inputs are uint8 images; use [ModelInputs] to make the float
 * tensors. Implementations need not be thread-safe: [EmotionPipeline] calls them from one thread.
 */
interface FaceRuntime {
    /**
     * [input]: the letterboxed frame for [detector] (128x128 short range, 192x192 full range).
     * Returns regressors (N x 16) and logits (N), N = detector.numAnchors.
     */
    fun detect(input: RgbImage, detector: DetectorOptions): DetectorOutput

    /** [input]: the 192x192 crop of [roi]. Returns 468 x 3 landmarks in crop px and the presence logit. */
    fun landmarks(input: RgbImage, roi: Roi): LandmarkerOutput
}

/** One emotion-model call: N crops, their float image tensor (metadata layout) and landmarks (N x 468 x 2). */
class EmotionBatch(val crops: List<RgbImage>, val image: FloatArray, val landmarks: FloatArray) {
    val size: Int get() = crops.size
}

interface EmotionRuntime {
    val metadata: ModelMetadata

    /** Logits (N x K) for a batch of exactly metadata.batch faces (or any N when batch = 0). */
    fun logits(batch: EmotionBatch): FloatArray
}
