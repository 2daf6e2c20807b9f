package ai.lrdif.core

import org.junit.Assert.assertEquals
import org.junit.Test

/** Bad input -> a typed exception with a clear message. */
class BadInputTest {
    private val golden = Golden()

    @Test fun zeroSizeFrame() {
        expectThrows<InvalidFrameException>("frame is empty (0x480)") { RgbImage(0, 480, ByteArray(0)) }
        expectThrows<InvalidFrameException>("frame is empty (640x0)") { RgbImage.empty(640, 0) }
        expectThrows<InvalidFrameException>("frame is empty") { RgbImage.fromRgba(ByteArray(0), 0, 0) }
        expectThrows<InvalidFrameException>("frame buffer holds 10 bytes, expected 2x2x3 = 12") { RgbImage(2, 2, ByteArray(10)) }
        expectThrows<InvalidFrameException>("RGBA buffer of 12 bytes is too small for 2x2") { RgbImage.fromRgba(ByteArray(12), 2, 2) }
    }

    @Test fun rgbaAndArgbConversion() {
        val img = RgbImage.fromRgba(byteArrayOf(1, 2, 3, 9, 4, 5, 6, 9, 0, 0, 7, 8, 9, 9), 2, 1, rowStride = 8)
        assertEquals(listOf<Byte>(1, 2, 3, 4, 5, 6), img.data.toList())
        val argb = RgbImage.fromArgb(intArrayOf(0xff102030.toInt()), 1, 1)
        assertEquals(listOf<Byte>(0x10, 0x20, 0x30), argb.data.toList())
    }

    @Test fun landmarksOfWrongLength() {
        expectThrows<InvalidLandmarksException>("landmarks_xy must have shape (468, 2) or (468, 3), got 1401 values") {
            EmotionCrop.affine(FloatArray(1401), CropSpec())
        }
        expectThrows<InvalidLandmarksException>("must have shape (468, 2) or (468, 3)") { FaceMesh.roiFromLandmarks(FloatArray(10)) }
        expectThrows<InvalidLandmarksException>("landmarks are degenerate (zero-size bounding box)") {
            EmotionCrop.affine(FloatArray(468 * 2) { 5f }, CropSpec())
        }
        expectThrows<InvalidLandmarksException>("contains NaN or inf") {
            EmotionCrop.affine(FloatArray(468 * 3) { if (it == 4) Float.NaN else it.toFloat() }, CropSpec())
        }
    }

    @Test fun runtimeOutputsOfWrongSize() {
        expectThrows<RuntimeOutputException>("detector outputs must be (896, 16) and (896,)") {
            BlazeFace.decode(DetectorOutput(FloatArray(896 * 16), FloatArray(10)), 640, 480, 0.5)
        }
        expectThrows<RuntimeOutputException>("detector outputs must be (2304, 16) and (2304,)") {
            BlazeFace.decode(DetectorOutput(FloatArray(896 * 16), FloatArray(896)), 640, 480, 0.5, DetectorOptions.FULL_RANGE)
        }
        expectThrows<RuntimeOutputException>("landmarker output must hold 468 x 3 values, got 1434") {
            FaceMesh.project(LandmarkerOutput(FloatArray(1434), 0f), Roi(1.0, 1.0, 1.0, 0.0))
        }
        expectThrows<RuntimeOutputException>("NaN/inf") { ModelInputs.softmax(floatArrayOf(1f, Float.NaN), 2) }
    }

    @Test fun videoTimestampsMustIncrease() {
        val replay = ReplayRuntime(golden.metadata)
        val case = golden.cases.first { it.mode == "video" }
        val f = case.frames[0]
        replay.load(f)
        val p = EmotionPipeline(replay, replay, golden.options)
        p.predictForVideo(f.frame(), 100)
        expectThrows<IllegalArgumentException>("timestamp_ms must increase monotonically: got 100 after 100") {
            p.predictForVideo(f.frame(), 100)
        }
        expectThrows<IllegalArgumentException>("smoothing must be in [0, 1), got 1.0") { PipelineOptions(smoothing = 1.0) }
    }
}
