package ai.lrdif.demo

import ai.lrdif.core.RgbImage
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.Preview
import androidx.camera.core.resolutionselector.AspectRatioStrategy
import androidx.camera.core.resolutionselector.ResolutionSelector
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import androidx.lifecycle.LifecycleOwner
import android.content.Context

/**
 * CameraX Preview + ImageAnalysis (keep only the latest frame, RGBA_8888), front camera first.
 * Each analysed frame is made upright, run through the pipeline in VIDEO mode and handed to [onResult].
 */
class CameraController(
    private val activity: androidx.appcompat.app.AppCompatActivity,
    private val previewView: PreviewView,
    private val runner: PipelineRunner,
    private val onResult: (FrameResult, Boolean) -> Unit,
) {
    private var provider: ProcessCameraProvider? = null
    private var front = true

    fun start() {
        val future = ProcessCameraProvider.getInstance(activity as Context)
        future.addListener({
            provider = future.get()
            bind()
        }, ContextCompat.getMainExecutor(activity))
    }

    fun stop() {
        provider?.unbindAll()
    }

    fun switchLens() {
        front = !front
        runner.resetTracking()
        bind()
    }

    private fun bind() {
        val p = provider ?: return
        val selector = ResolutionSelector.Builder()
            .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY).build()
        val preview = Preview.Builder().setResolutionSelector(selector).build()
            .also { it.setSurfaceProvider(previewView.surfaceProvider) }
        val analysis = ImageAnalysis.Builder()
            .setResolutionSelector(selector)
            .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
            .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
            .build()
        val isFront = front
        analysis.setAnalyzer(runner.executor) { image ->
            val ts = image.imageInfo.timestamp / 1_000_000
            val frame: RgbImage = image.use { Frames.fromImageProxy(it) }
            onResult(runner.run(frame, video = true, timestampMs = ts), isFront)
        }
        val lens = if (front) CameraSelector.DEFAULT_FRONT_CAMERA else CameraSelector.DEFAULT_BACK_CAMERA
        p.unbindAll()
        p.bindToLifecycle(activity as LifecycleOwner, lens, preview, analysis)
    }
}
