package ai.lrdif.core

import kotlin.math.atan2
import kotlin.math.cos
import kotlin.math.sin

/**
 * The emotion-model crop (port of `lrdif.sdk.face.crop`), rule "facemesh-eye-aligned-square":
 * rotate so the outer eye corners (33, 263) are level; centre = rotated landmark bbox centre moved
 * by shift_y * side; side = scale * max(bbox w, h). The affine maps frame pixel indices to crop
 * pixel indices (cv2.warpAffine convention); landmarks use MediaPipe's continuous convention.
 */
object EmotionCrop {
    fun affine(landmarks: FloatArray, spec: CropSpec): Affine {
        val stride = Landmarks.stride(landmarks, "landmarks_xy")
        spec.check()
        val lx = FaceMesh.LEFT_EYE_OUTER * stride
        val rx = FaceMesh.RIGHT_EYE_OUTER * stride
        val a = atan2(landmarks[rx + 1].toDouble() - landmarks[lx + 1], landmarks[rx].toDouble() - landmarks[lx])
        val c = cos(a)
        val s = sin(a)
        var lo0 = Double.POSITIVE_INFINITY; var lo1 = Double.POSITIVE_INFINITY
        var hi0 = Double.NEGATIVE_INFINITY; var hi1 = Double.NEGATIVE_INFINITY
        for (i in 0 until FaceMesh.NUM_LANDMARKS) {
            val x = landmarks[i * stride].toDouble()
            val y = landmarks[i * stride + 1].toDouble()
            val q0 = c * x + s * y
            val q1 = -s * x + c * y
            lo0 = minOf(lo0, q0); hi0 = maxOf(hi0, q0); lo1 = minOf(lo1, q1); hi1 = maxOf(hi1, q1)
        }
        val side = spec.scale * maxOf(hi0 - lo0, hi1 - lo1)
        if (!(side > 0)) throw InvalidLandmarksException("landmarks are degenerate (zero-size bounding box)")
        val cx = (lo0 + hi0) / 2
        val cy = (lo1 + hi1) / 2 + spec.shiftY * side
        val k = spec.size / side
        val la = c * k; val lb = s * k; val ld = -s * k; val le = c * k
        val t0 = (-cx + side / 2) * k
        val t1 = (-cy + side / 2) * k
        // continuous -> index convention on both sides: t + lin @ (0.5, 0.5) - 0.5
        return Affine(la, lb, t0 + (la + lb) * 0.5 - 0.5, ld, le, t1 + (ld + le) * 0.5 - 0.5)
    }

    /** (468 x 2) crop-normalised [0, 1] x, y of frame-px landmarks through [affine]. */
    fun cropLandmarks(landmarks: FloatArray, affine: Affine, size: Int): FloatArray {
        val stride = Landmarks.stride(landmarks, "landmarks_xy")
        val out = FloatArray(FaceMesh.NUM_LANDMARKS * 2)
        for (i in 0 until FaceMesh.NUM_LANDMARKS) {
            val x = landmarks[i * stride] - 0.5
            val y = landmarks[i * stride + 1] - 0.5
            out[2 * i] = ((affine.mapX(x, y) + 0.5) / size).toFloat()
            out[2 * i + 1] = ((affine.mapY(x, y) + 0.5) / size).toFloat()
        }
        return out
    }

    fun crop(frame: RgbImage, affine: Affine, size: Int): RgbImage =
        Warp.affine(frame, affine, size, size, Border.REPLICATE)
}
