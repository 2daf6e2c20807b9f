package ai.lrdif.core

/** One face (frame px, MediaPipe convention): the SDK's `lrdif.sdk.face.Face`. */
class Face(
    val box: FloatArray,            // x, y, w, h (tracked faces: the landmark bbox)
    val score: Double,              // detector score (tracked faces: the detection that started the track)
    val keypoints: FloatArray,      // 6 x (x, y)
    val landmarks: FloatArray,      // 468 x (x, y, z)
    val presence: Double,
    val crop: RgbImage,             // S x S emotion-model crop
    val cropLandmarks: FloatArray,  // 468 x (x, y) in [0, 1] of the crop
    val affine: Affine,             // frame pixel index -> crop pixel index
)

/**
 * Detector -> FaceMesh -> emotion crop (port of `lrdif.sdk.face.FaceFrontEnd`).
 * [process]: still image, detect every face. [track]: video, ROI from the previous landmarks;
 * null when the face is lost (presence < minPresence).
 */
class FaceFrontEnd(
    private val runtime: FaceRuntime,
    val cropSpec: CropSpec = CropSpec(),
    val minDetectionScore: Double = 0.5,
    val minPresence: Double = 0.5,
    private val timings: Timings = Timings(),
) {
    init {
        cropSpec.check()
        require(minDetectionScore in 0.0..1.0) { "min_score must be in [0, 1], got $minDetectionScore" }
    }

    /** Called with every detect() result (after max_faces): the app's debug overlay, the golden tests. */
    var onDetections: ((List<Detection>) -> Unit)? = null

    fun detect(frame: RgbImage, maxFaces: Int? = null): List<Detection> {
        val input = BlazeFace.input(frame)
        val out = timings.time(Timings.Stage.DETECTOR) { runtime.detect(input) }
        val dets = BlazeFace.decode(out, frame.width, frame.height, minDetectionScore)
        val kept = if (maxFaces == null) dets else dets.take(maxFaces)
        onDetections?.invoke(kept)
        return kept
    }

    /** FaceMesh on an explicit ROI: (468 x 3 frame px, presence). */
    fun landmarks(frame: RgbImage, roi: Roi): Pair<FloatArray, Double> {
        val input = FaceMesh.input(frame, roi)
        val out = timings.time(Timings.Stage.LANDMARKER) { runtime.landmarks(input, roi) }
        return FaceMesh.project(out, roi)
    }

    fun makeFace(frame: RgbImage, landmarks: FloatArray, presence: Double, box: FloatArray? = null,
                 score: Double = Double.NaN, keypoints: FloatArray? = null): Face {
        val affine = EmotionCrop.affine(landmarks, cropSpec)
        val stride = Landmarks.stride(landmarks, "landmarks")
        val b = box ?: run {
            var x0 = Float.POSITIVE_INFINITY; var y0 = Float.POSITIVE_INFINITY
            var x1 = Float.NEGATIVE_INFINITY; var y1 = Float.NEGATIVE_INFINITY
            for (i in 0 until FaceMesh.NUM_LANDMARKS) {
                val x = landmarks[i * stride]; val y = landmarks[i * stride + 1]
                x0 = minOf(x0, x); x1 = maxOf(x1, x); y0 = minOf(y0, y); y1 = maxOf(y1, y)
            }
            floatArrayOf(x0, y0, x1 - x0, y1 - y0)
        }
        return Face(b, score, keypoints ?: keypointsFromLandmarks(landmarks, stride), landmarks, presence,
            EmotionCrop.crop(frame, affine, cropSpec.size), EmotionCrop.cropLandmarks(landmarks, affine, cropSpec.size), affine)
    }

    fun process(frame: RgbImage, maxFaces: Int = 1): List<Face> {
        if (maxFaces < 1) throw IllegalArgumentException("max_faces must be a positive int, got $maxFaces")
        val faces = ArrayList<Face>()
        for (det in detect(frame, maxFaces)) {
            val (lm, presence) = landmarks(frame, FaceMesh.roiFromDetection(det))
            if (presence < minPresence) continue
            faces.add(makeFace(frame, lm, presence, det.box, det.score, det.keypoints))
        }
        return faces
    }

    fun track(frame: RgbImage, previous: Face): Face? {
        val (lm, presence) = landmarks(frame, FaceMesh.roiFromLandmarks(previous.landmarks))
        if (presence < minPresence) return null
        return makeFace(frame, lm, presence, score = previous.score)
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
    }
}
