package ai.lrdif.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * Box sanity (RoiAgreement), auto-mode merging and the uncertain-face filter: the SDK logic the
 * golden frames do not reach (their faces agree at once and are large). The runtime here answers
 * with FaceMesh points placed so that the landmark ROI is a chosen size relative to the crop.
 */
class BoxSanityTest {
    /** A landmarker whose landmarks span [spread] of its 192 px crop around the centre (presence logit [logit]). */
    private class ScriptedLandmarker(val spreads: List<Double>, val logit: Float = 5f) : FaceRuntime {
        var calls = 0
        override fun detect(input: RgbImage, detector: DetectorOptions): DetectorOutput = throw AssertionError("no detector here")
        override fun landmarks(input: RgbImage, roi: Roi): LandmarkerOutput {
            val spread = spreads[minOf(calls++, spreads.size - 1)]
            val pts = FloatArray(468 * 3)
            for (i in 0 until 468) {
                val u = (i % 2) * 2 - 1.0                    // alternate corners: bbox = spread of the crop
                val v = ((i / 2) % 2) * 2 - 1.0
                pts[3 * i] = (96 + u * 96 * spread).toFloat()
                pts[3 * i + 1] = (96 + v * 96 * spread).toFloat()
            }
            pts[3 * 33] = (96 - 96 * spread).toFloat(); pts[3 * 33 + 1] = 96f    // eyes level
            pts[3 * 263] = (96 + 96 * spread).toFloat(); pts[3 * 263 + 1] = 96f
            return LandmarkerOutput(pts, logit)
        }
    }

    private val frame = RgbImage(64, 64, ByteArray(64 * 64 * 3) { 100 })
    private val roi = Roi(32.0, 32.0, 30.0, 0.0)

    @Test fun agreementRule() {
        val ag = RoiAgreement()
        assertTrue(ag.agrees(roi, Roi(32.0, 32.0, 30.0 * 1.05, 0.0)))
        assertFalse(ag.agrees(roi, Roi(32.0, 32.0, 30.0 * 0.9, 0.0)))       // landmark ROI too small: detector box too big
        assertFalse(ag.agrees(roi, Roi(32.0 + 30 * 0.13, 32.0, 30.0, 0.0)))  // centre shifted
    }

    @Test fun goodRefinedUncertain() {
        // landmark ROI side = 1.5 * spread * 30; 0.7 -> 1.05 x the ROI (agrees), 0.5 -> 0.75 x (disagrees)
        val good = FaceFrontEnd(ScriptedLandmarker(listOf(0.7))).checkedLandmarks(frame, roi)
        assertEquals("good", good.quality)
        val rt = ScriptedLandmarker(listOf(0.5, 0.7))
        assertEquals("refined", FaceFrontEnd(rt).checkedLandmarks(frame, roi).quality)
        assertEquals(2, rt.calls)
        val never = ScriptedLandmarker(listOf(0.5))
        assertEquals("uncertain", FaceFrontEnd(never).checkedLandmarks(frame, roi).quality)
        assertEquals(3, never.calls)                                         // 1 + max_refinements
        assertEquals("good", FaceFrontEnd(ScriptedLandmarker(listOf(0.5)), agreement = null).checkedLandmarks(frame, roi).quality)
        val absent = ScriptedLandmarker(listOf(0.5), logit = -5f)             // presence below threshold: no loop
        assertEquals("good", FaceFrontEnd(absent).checkedLandmarks(frame, roi).quality)
        assertEquals(1, absent.calls)
    }

    @Test fun uncertainTrackIsLost() {
        val fe = FaceFrontEnd(ScriptedLandmarker(listOf(0.5)))
        val prev = fe.makeFace(frame, ScriptedLandmarker(listOf(0.7)).landmarks(frame, roi).let { FaceMesh.project(it, roi).first }, 1.0)
        val tracked = fe.track(frame, prev)!!
        assertEquals("uncertain", tracked.quality)
        assertTrue(PipelineOptions().keep(listOf(tracked)).isEmpty())
        assertEquals(1, PipelineOptions(keepUncertainFaces = true).keep(listOf(tracked)).size)
    }

    @Test fun autoModeMerge() {
        fun det(x: Float, w: Float, score: Double, src: String) = Detection(floatArrayOf(x, 10f, w, w), score, FloatArray(12), src)
        val longSide = 1000.0
        val shortSmall = det(100f, 80f, 0.9, "short")          // 8% of the long side: the full-range twin wins
        val fullTwin = det(102f, 78f, 0.7, "full")
        val fullOther = det(600f, 60f, 0.8, "full")
        val shortLarge = det(300f, 200f, 0.6, "short")         // no full-range twin: kept
        val merged = DetectionMerge.merge(listOf(shortSmall, shortLarge), listOf(fullTwin, fullOther), longSide)
        assertEquals(listOf("full", "full", "short"), merged.map { it.source })
        assertEquals(listOf(0.8, 0.7, 0.6), merged.map { it.score })
        val bigTwin = det(100f, 200f, 0.95, "short")           // large short-range face replaces its twin
        val merged2 = DetectionMerge.merge(listOf(bigTwin), listOf(det(105f, 190f, 0.7, "full")), longSide)
        assertEquals(listOf("short"), merged2.map { it.source })
    }
}
