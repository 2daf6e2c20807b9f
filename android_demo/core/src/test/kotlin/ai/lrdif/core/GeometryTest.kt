package ai.lrdif.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import kotlin.math.PI

/** Anchors, NMS, affines, softmax and the preview-to-overlay mapping (pure math). */
class GeometryTest {
    @Test fun anchors() {
        val a = BlazeFace.ANCHORS
        assertEquals(896 * 2, a.size)
        assertArrayEquals(floatArrayOf(0.5f / 16, 0.5f / 16), a.copyOfRange(0, 2), 0f)
        assertArrayEquals(floatArrayOf(0.5f / 16, 0.5f / 16), a.copyOfRange(2, 4), 0f)      // 2 anchors per cell
        assertArrayEquals(floatArrayOf(15.5f / 16, 15.5f / 16), a.copyOfRange(511 * 2, 512 * 2), 0f)
        assertArrayEquals(floatArrayOf(0.5f / 8, 0.5f / 8), a.copyOfRange(512 * 2, 513 * 2), 0f)  // 6 per cell at stride 16
        assertArrayEquals(floatArrayOf(7.5f / 8, 7.5f / 8), a.copyOfRange(895 * 2, 896 * 2), 0f)
        val full = DetectorOptions.FULL_RANGE.anchors      // stride 4 at 192 px, one anchor per cell
        assertEquals(2304, full.size / 2)
        assertArrayEquals(floatArrayOf(0.5f / 48, 0.5f / 48, 1.5f / 48, 0.5f / 48), full.copyOfRange(0, 4), 0f)
    }

    @Test fun letterbox() {
        val lb = BlazeFace.letterbox(640, 480)
        assertEquals(640.0, lb.side, 0.0)
        assertEquals(-80.0, lb.y0, 0.0)
        assertEquals(64.0, lb.affine.mapY(0.0, 240.0), 1e-12)
    }

    @Test fun weightedNmsBlendsOverlaps() {
        val boxes = arrayOf(doubleArrayOf(0.0, 0.0, 1.0, 1.0), doubleArrayOf(0.1, 0.0, 1.1, 1.0), doubleArrayOf(5.0, 5.0, 6.0, 6.0))
        val kps = Array(3) { DoubleArray(2) { 0.0 } }
        val out = WeightedNms.run(boxes, kps, doubleArrayOf(0.6, 0.9, 0.7), 0.3)
        assertEquals(2, out.size)
        assertEquals(0.9, out[0].score, 0.0)
        assertEquals((0.1 * 0.9) / 1.5, out[0].box[0], 1e-12)
        assertEquals(0.7, out[1].score, 0.0)
    }

    @Test fun sigmoidClipAndSoftmaxTemperature() {
        assertEquals(1.0, BlazeFace.sigmoidClipped(1e9), 0.0)
        assertEquals(1.0 / (1.0 + Math.exp(100.0)), BlazeFace.sigmoidClipped(-1e9), 0.0)
        val logits = floatArrayOf(1f, 2f, 3f, -1f)
        val p2 = ModelInputs.softmax(logits, 4, 2.0)
        val ref = ModelInputs.softmax(FloatArray(4) { logits[it] / 2f }, 4)
        assertArrayEquals(ref, p2, 1e-7f)
        assertEquals(1.0f, p2.sum(), 1e-6f)
    }

    @Test fun emotionInputLayoutAndColourOrder() {
        val crop = RgbImage(8, 8, ByteArray(8 * 8 * 3) { i -> if (i % 3 == 0) 255.toByte() else if (i % 3 == 1) 0 else 51 })
        val md = ModelMetadata(inputSize = 8, crop = CropSpec(size = 8), mean = listOf(0.5, 0.5, 0.5), std = listOf(0.5, 0.5, 0.25))
        val nchw = ModelInputs.emotion(listOf(crop), md)
        assertEquals(1.0f, nchw[0], 1e-6f)                   // R plane first: (1 - 0.5) / 0.5
        assertEquals(-1.0f, nchw[64], 1e-6f)                 // G plane
        assertEquals((0.2f - 0.5f) / 0.25f, nchw[128], 1e-6f) // B plane, its own std
        val nhwc = ModelInputs.emotion(listOf(crop), md.copy(inputLayout = "NHWC"))
        assertArrayEquals(floatArrayOf(nchw[0], nchw[64], nchw[128]), nhwc.copyOfRange(0, 3), 0f)
        val bgr = ModelInputs.emotion(listOf(crop), md.copy(inputLayout = "NHWC", colourOrder = "BGR"))
        assertEquals((0.2f - 0.5f) / 0.5f, bgr[0], 1e-6f)    // blue pixel, normalised with channel 0's mean/std
        assertEquals(2 * 3 * 64, ModelInputs.emotion(listOf(crop, crop), md).size)
    }

    @Test fun roiAffineAndProjectionAreInverse() {
        val roi = Roi(200.0, 150.0, 120.0, 0.3)
        val m = roi.affine()
        // a point at crop px (u, v) projects to frame px that the ROI affine maps back to (u, v)
        val out = LandmarkerOutput(FloatArray(468 * 3) { if (it % 3 == 2) 0f else 50f + it % 7 }, 0f)
        val (pts, presence) = FaceMesh.project(out, roi)
        assertEquals(0.5, presence, 0.0)
        assertEquals(out.landmarks[0].toDouble(), m.mapX(pts[0].toDouble(), pts[1].toDouble()), 1e-3)
        assertEquals(out.landmarks[1].toDouble(), m.mapY(pts[0].toDouble(), pts[1].toDouble()), 1e-3)
        assertEquals(-PI + 0.1, FaceMesh.normalizeRadians(PI + 0.1), 1e-12)
    }

    @Test fun rotationOfBufferAndOfCoordinatesAgree() {
        val w = 5; val h = 3
        val img = RgbImage(w, h, ByteArray(w * h * 3) { (it / 3).toByte() })  // pixel value = its index
        for (rot in intArrayOf(0, 90, 180, 270)) {
            val up = ImageOps.rotate(img, rot)
            val (uw, uh) = Overlay.uprightSize(w, h, rot)
            assertEquals(uw to uh, up.width to up.height)
            val m = Overlay.bufferToUpright(w, h, rot)
            for (y in 0 until h) for (x in 0 until w) {
                val ux = m.mapX(x + 0.5, y + 0.5) - 0.5
                val uy = m.mapY(x + 0.5, y + 0.5) - 0.5
                assertEquals("rot $rot pixel ($x, $y)", y * w + x, up.get(ux.toInt(), uy.toInt(), 0))
            }
        }
    }

    @Test fun frameToViewFillFitMirror() {
        // 480x640 upright frame on a 1080x1920 view: FILL scales by 3 (crops 180 px each side), FIT by 2.25
        val fill = Overlay.frameToView(480, 640, 1080, 1920, ScaleMode.FILL, mirror = false)
        assertEquals(3.0, fill.a, 0.0)
        assertEquals(0.0, fill.mapX(60.0, 0.0), 1e-9)
        assertEquals(0.0, fill.mapY(0.0, 0.0), 1e-9)
        val fit = Overlay.frameToView(480, 640, 1080, 1920, ScaleMode.FIT, mirror = false)
        assertEquals(2.25, fit.a, 0.0)
        assertEquals((1920 - 640 * 2.25) / 2, fit.mapY(0.0, 0.0), 1e-9)
        val mir = Overlay.frameToView(480, 640, 1080, 1920, ScaleMode.FILL, mirror = true)
        assertEquals(1080.0, mir.mapX(60.0, 0.0), 1e-9)
        assertArrayEquals(floatArrayOf(1080f - (3 * 160f - 180f), 30f, 1080f - (3 * 60f - 180f), 330f),
            Overlay.mapBox(floatArrayOf(60f, 10f, 100f, 100f), mir), 1e-3f)
        expectThrows<IllegalArgumentException>("multiple of 90") { Overlay.uprightSize(4, 4, 45) }
    }

    @Test fun affineInverseLikeOpenCv() {
        val m = Affine(2.0, 0.5, 3.0, -0.25, 1.5, -7.0)
        val id = m.compose(m.inverse())
        assertArrayEquals(floatArrayOf(1f, 0f, 0f, 0f, 1f, 0f), id.toFloatArray(), 1e-12f)
        assertArrayEquals(FloatArray(6), Affine(0.0, 0.0, 1.0, 0.0, 0.0, 1.0).inverse().toFloatArray(), 0f)
    }
}

/** Emotion-model IO names and shapes against the metadata (the SDK's LiteRT rules). */
class ModelIoTest {
    private val meta = ModelMetadata(batch = 1, target = "tflite")

    @Test fun genericNamesArePositionalInNaturalOrder() {
        val ins = listOf(TensorSpec("serving_default_args_1:0", intArrayOf(1, 468, 2)), TensorSpec("serving_default_args_0:0", intArrayOf(1, 3, 64, 64)))
        val outs = listOf(TensorSpec("StatefulPartitionedCall:1", intArrayOf(1, 8)), TensorSpec("output_0", intArrayOf(1, 8)))
        val outsGeneric = listOf(TensorSpec("output_1", intArrayOf(1, 8)), TensorSpec("output_0", intArrayOf(1, 8)))
        val m = ModelIo.resolve(meta, ins, outsGeneric, "m.tflite")
        assertEquals("serving_default_args_0:0", m["image"])
        assertEquals("serving_default_args_1:0", m["landmarks"])
        assertEquals("output_0", m["probabilities"])
        assertEquals(listOf("args_2", "args_10"), ModelIo.naturalOrder(listOf("args_10", "args_2")))
        expectThrows<ModelLoadException>("m.tflite: model outputs are") { ModelIo.resolve(meta, ins, outs, "m.tflite") }
    }

    /** The serving_default signature of lrdif-mobile-fp32.tflite as lrdif-export (litert-torch 0.10) wrote it, 2026-11-30. */
    @Test fun signatureOfTheExportedTflite() {
        val ins = listOf(TensorSpec("image", intArrayOf(1, 3, 64, 64)), TensorSpec("landmarks", intArrayOf(1, 468, 2)))
        val outs = listOf(TensorSpec("logits", intArrayOf(1, 8)), TensorSpec("probabilities", intArrayOf(1, 8)))
        assertEquals(mapOf("image" to "image", "landmarks" to "landmarks", "probabilities" to "probabilities", "logits" to "logits"),
            ModelIo.resolve(meta, ins, outs, "lrdif-mobile-fp32.tflite"))
        assertEquals("logits", ModelIo.shortName("serving_default_logits_output"))
        assertEquals("image", ModelIo.shortName("serving_default_image:0"))
    }

    @Test fun namedTensorsAndShapes() {
        val ins = listOf(TensorSpec("serving_default_landmarks:0", intArrayOf(1, 468, 2)), TensorSpec("serving_default_image:0", intArrayOf(1, 3, 64, 64)))
        val outs = listOf(TensorSpec("logits", intArrayOf(1, 8)), TensorSpec("probabilities", intArrayOf(1, 8)))
        assertEquals("serving_default_image:0", ModelIo.resolve(meta, ins, outs, "m")["image"])
        expectThrows<ModelLoadException>("input 'serving_default_image:0' has shape (1, 64, 64, 3) but the metadata implies (1, 3, 64, 64)") {
            ModelIo.resolve(meta, listOf(ins[0], TensorSpec("serving_default_image:0", intArrayOf(1, 64, 64, 3))), outs, "m")
        }
        // metadata says dynamic batch: a fixed-batch artifact is refused, a dynamic one accepted
        val dyn = meta.copy(batch = 0)
        expectThrows<ModelLoadException>("batch=dynamic") { ModelIo.resolve(dyn, ins, outs, "m") }
        val dynIns = ins.map { TensorSpec(it.name, it.shape.copyOf().also { s -> s[0] = -1 }) }
        val dynOuts = outs.map { TensorSpec(it.name, it.shape.copyOf().also { s -> s[0] = -1 }) }
        assertEquals(4, ModelIo.resolve(dyn, dynIns, dynOuts, "m").size)
    }
}
