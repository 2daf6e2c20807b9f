package ai.lrdif.demo

import ai.lrdif.core.BlazeFace
import ai.lrdif.core.DetectorOutput
import ai.lrdif.core.FaceMesh
import ai.lrdif.core.FaceRuntime
import ai.lrdif.core.LandmarkerOutput
import ai.lrdif.core.ModelInputs
import ai.lrdif.core.RgbImage
import ai.lrdif.core.Roi
import android.content.Context
import java.io.Closeable
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer

/** BlazeFace + FaceMesh on LiteRT: only the tensor I/O; everything else is in :core. */
class LiteRtFaceRuntime(context: Context, settings: DemoSettings) : FaceRuntime, Closeable {
    private val detector = LiteRtModel(ModelAssets.direct(ModelAssets.faceModel(context, ModelAssets.DETECTOR)), settings, "detector")
    private val landmarker = LiteRtModel(ModelAssets.direct(ModelAssets.faceModel(context, ModelAssets.LANDMARKER)), settings, "landmarker")

    // output indices found by shape, as the SDK does: regressors (1, 896, 16), classificators (1, 896, 1)
    private val regIndex = outputIndex(detector, BlazeFace.NUM_ANCHORS * BlazeFace.NUM_COORDS)
    private val clsIndex = outputIndex(detector, BlazeFace.NUM_ANCHORS)
    private val lmIndex = outputIndex(landmarker, FaceMesh.NUM_LANDMARKS * 3)
    private val flagIndex = outputIndex(landmarker, 1)

    val delegates: String get() = "${detector.delegateUsed}/${landmarker.delegateUsed}"

    private fun outputIndex(m: LiteRtModel, elements: Int): Int =
        (0 until m.interpreter.outputTensorCount).firstOrNull { m.interpreter.getOutputTensor(it).numElements() == elements }
            ?: throw ModelAssetException("${m.name}: no output with $elements values (not the MediaPipe model?)")

    private fun floats(n: Int): FloatBuffer = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer()

    private fun run(m: LiteRtModel, input: FloatArray, outputs: Map<Int, FloatBuffer>) {
        val inBuf = floats(input.size).apply { put(input); rewind() }
        outputs.values.forEach { it.rewind() }
        m.interpreter.runForMultipleInputsOutputs(arrayOf<Any>(inBuf), outputs)
        outputs.values.forEach { it.rewind() }
    }

    override fun detect(input: RgbImage): DetectorOutput {
        val reg = floats(BlazeFace.NUM_ANCHORS * BlazeFace.NUM_COORDS)
        val cls = floats(BlazeFace.NUM_ANCHORS)
        run(detector, ModelInputs.detector(input), mapOf(regIndex to reg, clsIndex to cls))
        return DetectorOutput(FloatArray(reg.capacity()).also { reg.get(it) }, FloatArray(cls.capacity()).also { cls.get(it) })
    }

    override fun landmarks(input: RgbImage, roi: Roi): LandmarkerOutput {
        val pts = floats(FaceMesh.NUM_LANDMARKS * 3)
        val flag = floats(1)
        run(landmarker, ModelInputs.landmarker(input), mapOf(lmIndex to pts, flagIndex to flag))
        return LandmarkerOutput(FloatArray(pts.capacity()).also { pts.get(it) }, flag.get(0))
    }

    override fun close() {
        detector.close()
        landmarker.close()
    }
}
