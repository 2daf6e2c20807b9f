package ai.lrdif.core

/** Options of [EmotionPipeline] (the SDK's `EmotionRecognizerOptions`, runtime-independent part). */
data class PipelineOptions(
    val maxFaces: Int = 4,
    val minDetectionConfidence: Double = 0.5,
    val minPresenceConfidence: Double = 0.5,
    /** VIDEO EMA: smoothed = smoothing * previous + (1 - smoothing) * current, per track; 0 = off. */
    val smoothing: Double = 0.6,
    /** VIDEO: run the detector every this many frames (also when a track is lost or none is tracked). */
    val redetectInterval: Int = 10,
    /** AUTO: short range, plus full range when short range finds no face or only small ones. */
    val faceDetector: FaceDetectorMode = FaceDetectorMode.AUTO,
    /** Also return faces whose landmarks never agreed with their box (quality "uncertain"). */
    val keepUncertainFaces: Boolean = false,
) {
    /** The SDK's `_keep`: drop uncertain faces unless asked to keep them. */
    fun keep(faces: List<Face>): List<Face> = if (keepUncertainFaces) faces else faces.filter { it.quality != "uncertain" }

    init {
        require(maxFaces >= 1) { "max_faces must be a positive int, got $maxFaces" }
        require(minDetectionConfidence in 0.0..1.0) { "min_detection_confidence must be in [0, 1], got $minDetectionConfidence" }
        require(minPresenceConfidence in 0.0..1.0) { "min_presence_confidence must be in [0, 1], got $minPresenceConfidence" }
        require(smoothing >= 0.0 && smoothing < 1.0) { "smoothing must be in [0, 1), got $smoothing" }
        require(redetectInterval >= 1) { "redetect_interval must be a positive int, got $redetectInterval" }
    }
}

/** One face of a frame: probabilities per label (smoothed per track in VIDEO mode), track id or null. */
class EmotionResult(val face: Face, val labels: List<String>, val probabilities: FloatArray, val faceId: Int?) {
    val best: Int get() = probabilities.indices.maxByOrNull { probabilities[it] } ?: 0
    val label: String get() = labels[best]
    val confidence: Float get() = probabilities[best]
}

/**
 * The whole pipeline of `lrdif.sdk.EmotionRecognizer` on pluggable runtimes: IMAGE mode
 * ([predict]) and VIDEO mode ([predictForVideo]: tracks, EMA smoothing). Not thread-safe: call it
 * from one analysis thread (CameraX's analyzer executor).
 */
class EmotionPipeline(
    faceRuntime: FaceRuntime,
    private val emotion: EmotionRuntime,
    val options: PipelineOptions = PipelineOptions(),
) {
    val metadata: ModelMetadata = emotion.metadata.validate()
    val timings = Timings()
    val frontEnd = FaceFrontEnd(faceRuntime, metadata.crop, options.minDetectionConfidence,
        options.minPresenceConfidence, timings, options.faceDetector)
    private val tracker = FaceTracker(frontEnd, options)
    private var lastTimestamp: Long? = null

    val labels: List<String> get() = metadata.labels

    /** IMAGE mode: every face of a still frame, best detection first. */
    fun predict(frame: RgbImage): List<EmotionResult> {
        timings.reset()
        val faces = options.keep(frontEnd.process(frame, options.maxFaces))
        val probs = classify(faces)
        val k = metadata.numClasses
        return faces.mapIndexed { i, f -> EmotionResult(f, labels, probs.copyOfRange(i * k, (i + 1) * k), null) }
    }

    /** VIDEO mode: faces tracked across frames; [timestampMs] must increase strictly. */
    fun predictForVideo(frame: RgbImage, timestampMs: Long): List<EmotionResult> {
        lastTimestamp?.let {
            if (timestampMs <= it) throw IllegalArgumentException(
                "timestamp_ms must increase monotonically: got $timestampMs after $it")
        }
        lastTimestamp = timestampMs
        timings.reset()
        val tracks = tracker.step(frame)
        val probs = classify(tracks.map { it.face })
        return tracker.smooth(tracks, probs, metadata.numClasses).map { (t, p) -> EmotionResult(t.face, labels, p, t.faceId) }
    }

    /** Forget the tracks (camera switched, mode changed). */
    fun resetTracking() {
        tracker.reset()
        lastTimestamp = null
    }

    /** One emotion-model call per frame (chunks padded with the last face for a fixed-batch model) -> N x K. */
    fun classify(faces: List<Face>): FloatArray {
        val k = metadata.numClasses
        if (faces.isEmpty()) return FloatArray(0)
        val b = metadata.batch
        val chunks = if (b == 0) listOf(faces) else faces.chunked(b)
        val out = FloatArray(faces.size * k)
        var row = 0
        for (chunk in chunks) {
            val padded = if (b == 0 || chunk.size == b) chunk else chunk + List(b - chunk.size) { chunk.last() }
            val batch = EmotionBatch(padded.map { it.crop }, ModelInputs.emotion(padded.map { it.crop }, metadata),
                padded.fold(FloatArray(0)) { acc, f -> acc + f.cropLandmarks })
            val logits = timings.time(Timings.Stage.EMOTION) { emotion.logits(batch) }
            if (logits.size != padded.size * k)
                throw RuntimeOutputException("emotion model returned ${logits.size} logits for ${padded.size} faces x $k classes")
            val probs = ModelInputs.softmax(logits, k, metadata.temperature)
            System.arraycopy(probs, 0, out, row * k, chunk.size * k)
            row += chunk.size
        }
        return out
    }
}
