package ai.lrdif.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File
import java.security.MessageDigest

/** Replays the SDK's golden vectors through the core's whole pipeline (lrdif.sdk.golden "Replaying"). */
class GoldenReplayTest {
    private val golden = Golden()

    private fun pipeline(replay: ReplayRuntime) = EmotionPipeline(replay, replay, golden.options)

    /** Compare the core's results for one frame with the SDK's recorded ones. */
    private fun checkFrame(f: GoldenFrame, results: List<EmotionResult>, detections: List<Detection>, video: Boolean) {
        val n = f.face("boxes").shape[0]
        assertEquals("${f.name}: number of faces", n, results.size)
        val exp = f.detections
        val d = exp.shape[0]
        assertTrue("${f.name}: core found ${detections.size} detections, SDK $d", detections.size >= d)
        if (d < detections.size) assertEquals("${f.name}: detections cut to max_faces", golden.options.maxFaces, d)
        Compare.floats("${f.name} detections", exp.floats(), detections.take(d).fold(FloatArray(0)) { a, x -> a + x.toRow() },
            1e-4, stat = "detections (frame px)")
        fun all(sel: (EmotionResult) -> FloatArray) = results.fold(FloatArray(0)) { a, r -> a + sel(r) }
        Compare.floats("${f.name} boxes", f.face("boxes").floats(), all { it.face.box }, 1e-4, stat = "boxes")
        Compare.floats("${f.name} landmarks", f.face("landmarks").floats(), all { it.face.landmarks }, 1e-4, stat = "landmarks (frame px)")
        Compare.floats("${f.name} presence", f.face("presence").floats(), FloatArray(n) { results[it].face.presence.toFloat() }, 1e-6)
        Compare.floats("${f.name} affines", f.face("affines").floats(), all { it.face.affine.toFloatArray() }, 1e-4, stat = "crop affines")
        Compare.pixels("${f.name} crops", f.face("crops").bytes(), results.fold(ByteArray(0)) { a, r -> a + r.face.crop.data })
        Compare.floats("${f.name} crop landmarks", f.face("crop_landmarks").floats(), all { it.face.cropLandmarks }, 1e-4,
            stat = "crop landmarks")
        Compare.floats("${f.name} probabilities", f.face("probabilities").floats(), all { it.probabilities }, 1e-5,
            rtol = 0.0, stat = "probabilities")
        assertEquals("${f.name} labels", f.labels, results.map { it.label })
        assertEquals("${f.name} quality", f.strings("quality"), results.map { it.face.quality })
        val ids = f.face("face_ids").ints().toList()
        assertEquals("${f.name} face ids", ids, results.map { it.faceId ?: -1 })
        if (!video) assertTrue(ids.all { it == -1 })
    }

    @Test fun schemaAndShippedModel() {
        assertEquals("lrdif.golden/1", golden.schema)
        val model = File(TestPaths.repoRoot, golden.modelFile)
        val sha = MessageDigest.getInstance("SHA-256").digest(model.readBytes()).joinToString("") { "%02x".format(it) }
        assertEquals("golden vectors were written for another $model: regenerate them", golden.modelSha256, sha)
        assertEquals(golden.metadata, ArtifactMetadata.read(model))
        assertEquals(BlazeFace.NUM_ANCHORS, (golden.detector("num_anchors") as Long).toInt())
        assertEquals(listOf(8L, 16L, 16L, 16L), golden.detector("strides"))
        assertEquals(FaceMesh.INPUT_SIZE, (golden.landmarker("input_size") as Long).toInt())
    }

    @Test fun imageCases() {
        val cases = golden.cases.filter { it.mode == "image" }
        assertTrue("golden has image cases", cases.isNotEmpty())
        for (case in cases) for (f in case.frames) {
            val replay = ReplayRuntime(golden.metadata)
            replay.load(f)
            val p = pipeline(replay)
            val frame = f.frame()
            val detections = ArrayList<Detection>()
            val results = RecordingPipeline(p, detections).predict(frame)
            replay.assertAllConsumed()
            checkFrame(f, results, detections, video = false)
        }
    }

    @Test fun videoSequenceTrackIds() {
        val cases = golden.cases.filter { it.mode == "video" }
        assertTrue("golden has a video case", cases.isNotEmpty())
        for (case in cases) {
            val replay = ReplayRuntime(golden.metadata)
            val p = pipeline(replay)
            val rec = RecordingPipeline(p, ArrayList())
            for (f in case.frames) {
                replay.load(f)
                rec.detections.clear()
                val results = rec.predictForVideo(f.frame(), f.timestampMs!!)
                replay.assertAllConsumed()
                checkFrame(f, results, rec.detections, video = true)
            }
        }
    }

    @Test fun detectorAndLandmarkerInputsFromFrames() {
        for (case in golden.cases) for (f in case.frames) {
            val frame = f.frame()
            for (c in f.calls) {
                val rec = c.tensors["input"] ?: continue
                val mine = when (c.model) {
                    "detector" -> BlazeFace.input(frame)
                    "detector_full" -> BlazeFace.input(frame, DetectorOptions.FULL_RANGE)
                    else -> FaceMesh.input(frame, Roi(c.roi!![0], c.roi[1], c.roi[2], c.roi[3]))
                }
                Compare.pixels("${f.name} ${c.model} input", rec.bytes(), mine.data)
                if (c.model == "detector") {
                    val t = ModelInputs.detector(mine)
                    assertEquals(-1.0f, ModelInputs.detector(RgbImage(1, 1, byteArrayOf(0, 0, 0)))[0], 0f)
                    assertEquals(1.0f, ModelInputs.detector(RgbImage(1, 1, byteArrayOf(-1, -1, -1)))[0], 1e-6f)
                    assertEquals(128 * 128 * 3, t.size)
                }
            }
        }
    }

    @Test fun probabilitiesFromRecordedLogits() {
        for (case in golden.cases) for (f in case.frames) for (c in f.calls.filter { it.model == "emotion" }) {
            val logits = c.tensors.getValue("logits")
            val k = logits.shape[1]
            val p = ModelInputs.softmax(logits.floats(), k, golden.metadata.temperature)
            Compare.floats("${f.name} softmax(logits / T)", c.tensors.getValue("probabilities").floats(), p, 1e-5, rtol = 0.0,
                stat = "probabilities from recorded logits")
        }
    }
}

/** Runs the pipeline and keeps the decoded detections of the frame (what the golden file records). */
class RecordingPipeline(private val p: EmotionPipeline, val detections: MutableList<Detection>) {
    init {
        p.frontEnd.onDetections = { detections.addAll(it) }
    }

    fun predict(frame: RgbImage) = p.predict(frame)
    fun predictForVideo(frame: RgbImage, ts: Long) = p.predictForVideo(frame, ts)
}
