package ai.lrdif.core

import kotlin.math.hypot

/** Which detector(s) find faces (the SDK's `face_detector`): "auto" runs full range only for small/no faces. */
enum class FaceDetectorMode { SHORT, FULL, AUTO }

/**
 * Box sanity (the SDK's `RoiAgreement`): FaceMesh's landmarks agree with the region they were
 * computed from when the landmark ROI is between [minSizeRatio] and [maxSizeRatio] times that
 * region's side and its centre within [maxShift] sides; otherwise FaceMesh re-runs on the landmark
 * ROI, at most [maxRefinements] times.
 */
data class RoiAgreement(
    val minSizeRatio: Double = 0.92,
    val maxSizeRatio: Double = 1.3,
    val maxShift: Double = 0.12,
    val maxRefinements: Int = 2,
) {
    fun agrees(used: Roi, found: Roi): Boolean {
        val ratio = found.size / used.size
        val shift = hypot(found.cx - used.cx, found.cy - used.cy) / used.size
        return ratio in minSizeRatio..maxSizeRatio && shift <= maxShift
    }
}

/** Auto-mode detection merging (the SDK's `merge_detections` and `AUTO_FULL_BELOW`). */
object DetectionMerge {
    /** Auto mode runs full range too when a short-range face is narrower than this fraction of the long side. */
    const val AUTO_FULL_BELOW = 0.17

    /** float32 like the SDK's numpy boxes (the same function as [FaceTracker.iou]). */
    private fun iou(a: FloatArray, b: FloatArray): Float = FaceTracker.iou(a, b)

    /** Full-range detections plus the short-range ones no full-range box overlaps; a large short-range face replaces its full-range twin. */
    fun merge(short: List<Detection>, full: List<Detection>, longSide: Double,
              small: Double = AUTO_FULL_BELOW, iouThreshold: Double = 0.3): List<Detection> {
        val out = full.toMutableList()
        for (d in short) {
            val j = out.indexOfFirst { iou(d.box, it.box) > iouThreshold }
            if (j < 0) out.add(d) else if (d.box[2] >= small * longSide) out[j] = d
        }
        return out.sortedBy { -it.score }
    }
}
