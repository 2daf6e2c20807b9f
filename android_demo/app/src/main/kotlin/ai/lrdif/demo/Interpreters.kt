package ai.lrdif.demo

import android.util.Log
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import java.io.Closeable
import java.nio.ByteBuffer

/** One LiteRT Interpreter with the chosen delegate (GPU falls back to CPU where unsupported). */
class LiteRtModel(model: ByteBuffer, settings: DemoSettings, val name: String) : Closeable {
    private var gpu: GpuDelegate? = null
    val interpreter: Interpreter
    val delegateUsed: Delegate

    init {
        val options = Interpreter.Options().setNumThreads(settings.threads)
        var used = Delegate.CPU
        if (settings.delegate == Delegate.GPU) {
            val compat = CompatibilityList()
            if (compat.isDelegateSupportedOnThisDevice) {
                gpu = GpuDelegate(compat.bestOptionsForThisDevice).also { options.addDelegate(it) }
                used = Delegate.GPU
            } else {
                Log.w(TAG, "$name: GPU delegate not supported on this device, using CPU")
            }
        }
        interpreter = Interpreter(model, options)
        interpreter.allocateTensors()
        delegateUsed = used
    }

    override fun close() {
        interpreter.close()
        gpu?.close()
        gpu = null
    }

    companion object {
        const val TAG = "lrdif"
    }
}
