package ai.lrdif.demo

import ai.lrdif.core.ArtifactMetadata
import ai.lrdif.core.EmotionBatch
import ai.lrdif.core.EmotionRuntime
import ai.lrdif.core.ModelIo
import ai.lrdif.core.ModelLoadException
import ai.lrdif.core.ModelMetadata
import ai.lrdif.core.TensorSpec
import android.content.Context
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Tensor
import java.io.Closeable
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer

/**
 * The lrdif emotion .tflite on LiteRT, configured from its embedded metadata (read by :core).
 * Tensors are found by the model's signature names, as the SDK's LiteRT backend does.
 */
class LiteRtEmotionRuntime(context: Context, val assetName: String, settings: DemoSettings) : EmotionRuntime, Closeable {
    private val bytes = ModelAssets.bytes(context, assetName)
    override val metadata: ModelMetadata = ArtifactMetadata.read(bytes, "tflite", assetName)
    private val model = LiteRtModel(ModelAssets.direct(bytes), settings, assetName)
    private val interp = model.interpreter
    private val signature: String? = interp.signatureKeys.let { keys ->
        if ("serving_default" in keys) "serving_default" else keys.firstOrNull()
    }
    private val names: Map<String, String>

    val delegate: Delegate get() = model.delegateUsed

    init {
        if (metadata.batch == 0) throw ModelLoadException("$assetName: dynamic-batch .tflite; export it with lrdif-export (batch 1)")
        names = ModelIo.resolve(metadata, inputs().map { spec(it.first, it.second) }, outputs().map { spec(it.first, it.second) }, assetName)
        for ((n, t) in inputs()) if (t.dataType() != DataType.FLOAT32)
            throw ModelLoadException("$assetName: input '$n' is ${t.dataType()}; this demo feeds float32 (use the fp32 or dynamic-int8 export)")
    }

    private fun spec(name: String, t: Tensor) = TensorSpec(name, t.shapeSignature())

    private fun inputs(): List<Pair<String, Tensor>> = signature?.let { s ->
        interp.getSignatureInputs(s).map { n -> n to interp.getInputTensorFromSignature(n, s) }
    } ?: (0 until interp.inputTensorCount).map { i -> interp.getInputTensor(i).let { t -> t.name() to t } }

    private fun outputs(): List<Pair<String, Tensor>> = signature?.let { s ->
        interp.getSignatureOutputs(s).map { n -> n to interp.getOutputTensorFromSignature(n, s) }
    } ?: (0 until interp.outputTensorCount).map { i -> interp.getOutputTensor(i).let { t -> t.name() to t } }

    private fun floats(v: FloatArray): FloatBuffer =
        ByteBuffer.allocateDirect(v.size * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().apply { put(v); rewind() }

    override fun logits(batch: EmotionBatch): FloatArray {
        val (image, landmarks) = metadata.inputNames
        val (probs, logits) = metadata.outputNames
        val k = metadata.numClasses
        val outP = floats(FloatArray(batch.size * k))
        val outL = floats(FloatArray(batch.size * k))
        val ins = mapOf<String, Any>(names.getValue(image) to floats(batch.image), names.getValue(landmarks) to floats(batch.landmarks))
        val outs = mapOf<String, Any>(names.getValue(probs) to outP, names.getValue(logits) to outL)
        if (signature != null) {
            interp.runSignature(ins, outs, signature)
        } else {
            val order = (0 until interp.inputTensorCount).map { i -> ins.getValue(interp.getInputTensor(i).name()) }
            val outIdx = (0 until interp.outputTensorCount).associateBy { i -> interp.getOutputTensor(i).name() }
            interp.runForMultipleInputsOutputs(order.toTypedArray(), outs.mapKeys { (n, _) -> outIdx.getValue(n) })
        }
        outL.rewind()
        return FloatArray(batch.size * k).also { outL.get(it) }
    }

    override fun close() = model.close()
}
