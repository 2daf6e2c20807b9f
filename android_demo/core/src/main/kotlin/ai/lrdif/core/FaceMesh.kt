package ai.lrdif.core

import kotlin.math.PI
import kotlin.math.atan2
import kotlin.math.cos
import kotlin.math.exp
import kotlin.math.floor
import kotlin.math.sin

/** A rotated square in frame px: centre, side, rotation (radians, MediaPipe's sign). */
data class Roi(val cx: Double, val cy: Double, val size: Double, val rotation: Double) {
    /** Frame px -> crop px (MediaPipe ImageToTensor's rotated-rect warp), for an [outSize] crop. */
    fun affine(outSize: Int = FaceMesh.INPUT_SIZE): Affine {
        val c = cos(rotation)
        val s = sin(rotation)
        val k = outSize / size
        return Affine(c * k, s * k, -(c * cx + s * cy) * k + outSize / 2.0,
            -s * k, c * k, -(-s * cx + c * cy) * k + outSize / 2.0)
    }
}

/** Raw FaceMesh outputs: 468 x (x, y, z) in crop px and the face-presence logit. */
class LandmarkerOutput(val landmarks: FloatArray, val presenceLogit: Float)

/** FaceMesh 468-point landmarker pre/post-processing (port of `lrdif.sdk.face.landmarker`). */
object FaceMesh {
    const val INPUT_SIZE = 192
    const val NUM_LANDMARKS = 468
    const val LEFT_EYE_OUTER = 33
    const val RIGHT_EYE_OUTER = 263

    fun normalizeRadians(a: Double): Double = a - 2 * PI * floor((a + PI) / (2 * PI))

    /** ROI from a detection: eye keypoints 0 -> 1 give the rotation; 1.5 x the long side, square. */
    fun roiFromDetection(det: Detection, scale: Double = 1.5): Roi {
        val (x, y, w, h) = det.box.map { it.toDouble() }
        val k = det.keypoints
        val rot = normalizeRadians(0.0 - atan2(-(k[3].toDouble() - k[1].toDouble()), k[2].toDouble() - k[0].toDouble()))
        return Roi(x + w / 2, y + h / 2, maxOf(w, h) * scale, rot)
    }

    /** ROI from the previous frame's landmarks (MediaPipe video mode): their bbox, rotation 33 -> 263. */
    fun roiFromLandmarks(landmarks: FloatArray, scale: Double = 1.5): Roi {
        val stride = Landmarks.stride(landmarks, "landmarks")
        var x0 = Double.POSITIVE_INFINITY; var y0 = Double.POSITIVE_INFINITY
        var x1 = Double.NEGATIVE_INFINITY; var y1 = Double.NEGATIVE_INFINITY
        for (i in 0 until NUM_LANDMARKS) {
            val x = landmarks[i * stride].toDouble()
            val y = landmarks[i * stride + 1].toDouble()
            x0 = minOf(x0, x); x1 = maxOf(x1, x); y0 = minOf(y0, y); y1 = maxOf(y1, y)
        }
        val ax = landmarks[LEFT_EYE_OUTER * stride].toDouble(); val ay = landmarks[LEFT_EYE_OUTER * stride + 1].toDouble()
        val bx = landmarks[RIGHT_EYE_OUTER * stride].toDouble(); val by = landmarks[RIGHT_EYE_OUTER * stride + 1].toDouble()
        val rot = normalizeRadians(0.0 - atan2(-(by - ay), bx - ax))
        return Roi((x0 + x1) / 2, (y0 + y1) / 2, maxOf(x1 - x0, y1 - y0) * scale, rot)
    }

    /** The 192x192 uint8 crop (border replicate); the float tensor is [ModelInputs.landmarker]. */
    fun input(frame: RgbImage, roi: Roi): RgbImage {
        if (!(roi.size > 0 && roi.size.isFinite()))
            throw InvalidLandmarksException("ROI size must be positive and finite, got ${roi.size}")
        return Warp.affine(frame, roi.affine(INPUT_SIZE), INPUT_SIZE, INPUT_SIZE, Border.REPLICATE)
    }

    /** LandmarkProjection: crop px -> frame px (468 x 3, z scaled like x) and presence = sigmoid(logit). */
    fun project(out: LandmarkerOutput, roi: Roi): Pair<FloatArray, Double> {
        if (out.landmarks.size != NUM_LANDMARKS * 3)
            throw RuntimeOutputException("landmarker output must hold $NUM_LANDMARKS x 3 values, got ${out.landmarks.size}")
        val c = cos(roi.rotation)
        val s = sin(roi.rotation)
        val pts = FloatArray(NUM_LANDMARKS * 3)
        for (i in 0 until NUM_LANDMARKS) {
            val u = out.landmarks[3 * i].toDouble() / INPUT_SIZE - 0.5
            val v = out.landmarks[3 * i + 1].toDouble() / INPUT_SIZE - 0.5
            pts[3 * i] = ((c * u - s * v) * roi.size + roi.cx).toFloat()
            pts[3 * i + 1] = ((s * u + c * v) * roi.size + roi.cy).toFloat()
            pts[3 * i + 2] = (out.landmarks[3 * i + 2].toDouble() / INPUT_SIZE * roi.size).toFloat()
        }
        val logit = out.presenceLogit.toDouble().coerceIn(-100.0, 100.0)
        return pts to 1.0 / (1.0 + exp(-logit))
    }
}

/** Landmark array checks: 468 x 2 or 468 x 3 floats, finite. */
object Landmarks {
    /** 2 or 3 (values per landmark), or [InvalidLandmarksException]. */
    fun stride(lm: FloatArray, name: String): Int {
        val n = FaceMesh.NUM_LANDMARKS
        val stride = when (lm.size) {
            n * 2 -> 2
            n * 3 -> 3
            else -> throw InvalidLandmarksException(
                "$name must have shape (468, 2) or (468, 3), got ${lm.size} values (${lm.size / 3.0} points of 3)")
        }
        for (i in 0 until n) {
            if (!lm[i * stride].isFinite() || !lm[i * stride + 1].isFinite())
                throw InvalidLandmarksException("$name contains NaN or inf")
        }
        return stride
    }
}
