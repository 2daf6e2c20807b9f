package ai.lrdif.core

/** One face (frame px, MediaPipe convention): the SDK's `lrdif.sdk.face.Face`. */
class Face(
    val box: FloatArray,            // x, y, w, h (tracked or refined faces: the landmark bbox)
    val score: Double,              // detector score (tracked faces: the detection that started the track)
    val keypoints: FloatArray,      // 6 x (x, y)
    val landmarks: FloatArray,      // 468 x (x, y, z)
    val presence: Double,
    val crop: RgbImage,             // S x S emotion-model crop
    val cropLandmarks: FloatArray,  // 468 x (x, y) in [0, 1] of the crop
    val affine: Affine,             // frame pixel index -> crop pixel index
    val quality: String = "good",   // "good" | "refined" | "uncertain" (box sanity, see RoiAgreement)
    val source: String = "",        // "short" | "full" | "track": where the ROI came from
)

/** FaceMesh landmarks after the box-sanity loop. */
class CheckedLandmarks(val landmarks: FloatArray, val presence: Double, val quality: String)

/**
 * Detector(s) -> FaceMesh -> box sanity -> emotion crop (port of `lrdif.sdk.face.FaceFrontEnd`).
 * [process]: still image, detect every face. [track]: video, ROI from the previous landmarks;
 * null when the face is lost (presence < minPresence).
 */
class FaceFrontEnd(
    private val runtime: FaceRuntime,
    val cropSpec: CropSpec = CropSpec(),
    val minDetectionScore: Double = 0.5,
    val minPresence: Double = 0.5,
    private val timings: Timings = Timings(),
    val mode: FaceDetectorMode = FaceDetectorMode.AUTO,
    val agreement: RoiAgreement? = RoiAgreement(),
) {
    init {
        cropSpec.check()
        require(minDetectionScore in 0.0..1.0) { "min_score must be in [0, 1], got $minDetectionScore" }
    }

    /** Called with every detector's result (after max_faces): debug overlays, the golden tests. */
    var onDetections: ((List<Detection>) -> Unit)? = null

    /** One detector on the frame; full range never goes below MediaPipe's own 0.6. */
    fun runDetector(frame: RgbImage, opts: DetectorOptions, maxFaces: Int?): List<Detection> {
        val input = BlazeFace.input(frame, opts)
        val out = timings.time(Timings.Stage.DETECTOR) { runtime.detect(input, opts) }
        val min = if (opts == DetectorOptions.FULL_RANGE) maxOf(minDetectionScore, opts.minScore) else minDetectionScore
        val dets = BlazeFace.decode(out, frame.width, frame.height, min, opts)
        val kept = if (maxFaces == null) dets else dets.take(maxFaces)
        onDetections?.invoke(kept)
        return kept
    }

    /** Detections by the configured detector(s), best first, at most [maxFaces]. */
    fun detect(frame: RgbImage, maxFaces: Int? = null): List<Detection> {
        if (mode == FaceDetectorMode.FULL) return runDetector(frame, DetectorOptions.FULL_RANGE, maxFaces)
        val short = runDetector(frame, DetectorOptions.SHORT_RANGE, maxFaces)
        if (mode == FaceDetectorMode.SHORT) return short
        val longSide = maxOf(frame.width, frame.height).toDouble()
        if (short.isNotEmpty() && short.all { it.box[2] >= DetectionMerge.AUTO_FULL_BELOW * longSide }) return short
        val merged = DetectionMerge.merge(short, runDetector(frame, DetectorOptions.FULL_RANGE, maxFaces), longSide)
        return if (maxFaces == null) merged else merged.take(maxFaces)
    }

    /** FaceMesh on an explicit ROI: (468 x 3 frame px, presence). */
    fun landmarks(frame: RgbImage, roi: Roi): Pair<FloatArray, Double> {
        val input = FaceMesh.input(frame, roi)
        val out = timings.time(Timings.Stage.LANDMARKER) { runtime.landmarks(input, roi) }
        return FaceMesh.project(out, roi)
    }

    /** FaceMesh on [roi0], then re-crop from the landmarks until they agree with their ROI (the SDK's checked_landmarks). */
    fun checkedLandmarks(frame: RgbImage, roi0: Roi): CheckedLandmarks {
        var roi = roi0
        var (lm, presence) = landmarks(frame, roi)
        val ag = agreement
        if (ag == null || presence < minPresence) return CheckedLandmarks(lm, presence, "good")
        var quality = "good"
        for (i in 0..ag.maxRefinements) {
            val found = FaceMesh.roiFromLandmarks(lm)
            if (ag.agrees(roi, found)) return CheckedLandmarks(lm, presence, quality)
            if (i == ag.maxRefinements) break
            roi = found
            quality = "refined"
            val again = landmarks(frame, roi)
            lm = again.first
            presence = again.second
            if (presence < minPresence) break
        }
        return CheckedLandmarks(lm, presence, "uncertain")
    }

    fun makeFace(frame: RgbImage, landmarks: FloatArray, presence: Double, box: FloatArray? = null,
                 score: Double = Double.NaN, keypoints: FloatArray? = null, quality: String = "good", source: String = ""): Face {
        val affine = EmotionCrop.affine(landmarks, cropSpec)
        val stride = Landmarks.stride(landmarks, "landmarks")
        return Face(box ?: landmarkBox(landmarks, stride), score, keypoints ?: keypointsFromLandmarks(landmarks, stride),
            landmarks, presence, EmotionCrop.crop(frame, affine, cropSpec.size),
            EmotionCrop.cropLandmarks(landmarks, affine, cropSpec.size), affine, quality, source)
    }

    fun process(frame: RgbImage, maxFaces: Int = 1): List<Face> {
        if (maxFaces < 1) throw IllegalArgumentException("max_faces must be a positive int, got $maxFaces")
        val faces = ArrayList<Face>()
        for (det in detect(frame, maxFaces)) {
            val c = checkedLandmarks(frame, FaceMesh.roiFromDetection(det))
            if (c.presence < minPresence) continue
            // a refined face's detector box was wrong: report the landmarks' box instead
            val box = if (c.quality == "good") det.box else null
            faces.add(makeFace(frame, c.landmarks, c.presence, box, det.score, det.keypoints, c.quality, det.source))
        }
        return faces
    }

    fun track(frame: RgbImage, previous: Face): Face? {
        val c = checkedLandmarks(frame, FaceMesh.roiFromLandmarks(previous.landmarks))
        if (c.presence < minPresence) return null
        return makeFace(frame, c.landmarks, c.presence, score = previous.score, quality = c.quality, source = "track")
    }

    companion object {
        /** FaceMesh indices standing in for BlazeFace's 6 keypoints on tracked faces. */
        private val KEYPOINT_LANDMARKS = listOf(intArrayOf(33, 133), intArrayOf(362, 263), intArrayOf(1),
            intArrayOf(13, 14), intArrayOf(234), intArrayOf(454))

        fun keypointsFromLandmarks(lm: FloatArray, stride: Int): FloatArray {
            val out = FloatArray(12)
            for ((k, ix) in KEYPOINT_LANDMARKS.withIndex()) {
                out[2 * k] = ix.fold(0f) { s, i -> s + lm[i * stride] } / ix.size
                out[2 * k + 1] = ix.fold(0f) { s, i -> s + lm[i * stride + 1] } / ix.size
            }
            return out
        }

        /** x, y, w, h of the landmarks (float32 like the SDK). */
        fun landmarkBox(lm: FloatArray, stride: Int): FloatArray {
            var x0 = Float.POSITIVE_INFINITY; var y0 = Float.POSITIVE_INFINITY
            var x1 = Float.NEGATIVE_INFINITY; var y1 = Float.NEGATIVE_INFINITY
            for (i in 0 until FaceMesh.NUM_LANDMARKS) {
                val x = lm[i * stride]; val y = lm[i * stride + 1]
                x0 = minOf(x0, x); x1 = maxOf(x1, x); y0 = minOf(y0, y); y1 = maxOf(y1, y)
            }
            return floatArrayOf(x0, y0, x1 - x0, y1 - y0)
        }
    }
}
