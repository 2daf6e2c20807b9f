package ai.lrdif.core

/** One tracked face: stable id, the face of the last frame, its smoothed probabilities. */
class Track(val faceId: Int, var face: Face, var probs: FloatArray? = null)

/**
 * VIDEO-mode tracking, exactly `EmotionRecognizer._video_step`: follow each track from its previous
 * landmarks (a track whose face turns "uncertain" counts as lost); drop a track that converged onto an older one (IoU > 0.5); re-detect when a track is
 * lost, none is tracked, or every redetectInterval frames; a detection whose centre lies in a kept
 * track's box is skipped, one in a just-lost track's box takes over that id, others get new ids.
 * Box arithmetic in float32 like the SDK's numpy.
 */
class FaceTracker(private val frontEnd: FaceFrontEnd, private val options: PipelineOptions) {
    private var tracks: List<Track> = emptyList()
    private var nextId = 0
    private var frameIndex = 0

    fun reset() {
        tracks = emptyList(); nextId = 0; frameIndex = 0
    }

    fun step(frame: RgbImage): List<Track> {
        val kept = ArrayList<Track>()
        val lost = ArrayList<Track>()
        for (t in tracks) {
            val face = frontEnd.track(frame, t.face)
            if (face == null || options.keep(listOf(face)).isEmpty()) { lost.add(t); continue }   // lost, or uncertain
            if (kept.any { iou(face.box, it.face.box) > 0.5f }) continue
            t.face = face
            kept.add(t)
        }
        val periodic = frameIndex % options.redetectInterval == 0
        if (kept.size < options.maxFaces && (lost.isNotEmpty() || kept.isEmpty() || periodic)) {
            for (face in options.keep(frontEnd.process(frame, options.maxFaces))) {
                if (kept.size >= options.maxFaces) break
                val cx = face.box[0] + face.box[2] / 2
                val cy = face.box[1] + face.box[3] / 2
                if (kept.any { inside(cx, cy, it.face.box) }) continue
                val again = lost.firstOrNull { inside(cx, cy, it.face.box) }
                if (again != null) {
                    lost.remove(again)
                    again.face = face
                    kept.add(again)
                } else {
                    kept.add(Track(nextId++, face))
                }
            }
        }
        frameIndex++
        tracks = kept
        return kept
    }

    /** EMA per track (float32, renormalised), stored back on the track; returns (track, probabilities). */
    fun smooth(kept: List<Track>, probs: FloatArray, k: Int): List<Pair<Track, FloatArray>> {
        val a = options.smoothing.toFloat()
        val b = (1.0 - options.smoothing).toFloat()   // numpy: the Python float 1 - a, cast to float32
        return kept.mapIndexed { i, t ->
            var p = probs.copyOfRange(i * k, (i + 1) * k)
            val prev = t.probs
            if (prev != null && a > 0f) {
                val q = FloatArray(k) { a * prev[it] + b * p[it] }
                val sum = q.fold(0f) { s, v -> s + v }
                p = FloatArray(k) { q[it] / sum }
            }
            t.probs = p
            t to p
        }
    }

    companion object {
        fun inside(px: Float, py: Float, box: FloatArray): Boolean =
            box[0] <= px && px <= box[0] + box[2] && box[1] <= py && py <= box[1] + box[3]

        fun iou(a: FloatArray, b: FloatArray): Float {
            val ix = maxOf(0f, minOf(a[0] + a[2], b[0] + b[2]) - maxOf(a[0], b[0]))
            val iy = maxOf(0f, minOf(a[1] + a[3], b[1] + b[3]) - maxOf(a[1], b[1]))
            val inter = ix * iy
            val union = a[2] * a[3] + b[2] * b[3] - inter
            return if (union > 0) inter / union else 0f
        }
    }
}
