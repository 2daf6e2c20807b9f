package ai.lrdif.demo

import ai.lrdif.core.BlazeFace
import ai.lrdif.core.DetectorOptions
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

/**
 * BlazeFace (short range, and full range when its model is in assets) + FaceMesh on LiteRT: only the
 * tensor I/O; everything else is in :core.
 */
class LiteRtFaceRuntime(private val context: Context, private val settings: DemoSettings) : FaceRuntime, Closeable {
    private fun load(name: String) = LiteRtModel(ModelAssets.direct(ModelAssets.faceModel(context, name)), settings, name)

    private val detectors: Map<DetectorOptions, LiteRtModel> = buildMap {
        put(DetectorOptions.SHORT_RANGE, load(ModelAssets.DETECTOR))
        if (ModelAssets.has(context, ModelAssets.DETECTOR_FULL)) put(DetectorOptions.FULL_RANGE, load(ModelAssets.DETECTOR_FULL))
    }
    private val landmarker = load(ModelAssets.LANDMARKER)

    /** True when the full-range model is present (the pipeline then runs in AUTO mode, else SHORT). */
    val hasFullRange: Boolean get() = DetectorOptions.FULL_RANGE in detectors

    // output indices found by shape, as the SDK does: regressors (1, N, 16), classificators (1, N, 1)
    private val lmIndex = outputIndex(landmarker, FaceMesh.NUM_LANDMARKS * 3)
    private val flagIndex = outputIndex(landmarker, 1)

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

    override fun detect(input: RgbImage, detector: DetectorOptions): DetectorOutput {
        val m = detectors[detector] ?: throw ModelAssetException("${ModelAssets.DETECTOR_FULL} is not in the app's assets")
        val n = detector.numAnchors
        val reg = floats(n * BlazeFace.NUM_COORDS)
        val cls = floats(n)
        run(m, ModelInputs.detector(input), mapOf(outputIndex(m, n * BlazeFace.NUM_COORDS) to reg, outputIndex(m, n) to cls))
        return DetectorOutput(FloatArray(reg.capacity()).also { reg.get(it) }, FloatArray(cls.capacity()).also { cls.get(it) })
    }

    override fun landmarks(input: RgbImage, roi: Roi): LandmarkerOutput {
        val pts = floats(FaceMesh.NUM_LANDMARKS * 3)
        val flag = floats(1)
        run(landmarker, ModelInputs.landmarker(input), mapOf(lmIndex to pts, flagIndex to flag))
        return LandmarkerOutput(FloatArray(pts.capacity()).also { pts.get(it) }, flag.get(0))
    }

    override fun close() {
        detectors.values.forEach { it.close() }
        landmarker.close()
    }
}
