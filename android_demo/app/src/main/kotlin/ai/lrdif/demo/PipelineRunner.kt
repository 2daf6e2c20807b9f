package ai.lrdif.demo

import ai.lrdif.core.EmotionPipeline
import ai.lrdif.core.EmotionResult
import ai.lrdif.core.FaceDetectorMode
import ai.lrdif.core.PipelineOptions
import ai.lrdif.core.RgbImage
import android.content.Context
import android.util.Log
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** One frame's outcome for the UI: the upright frame size, results, timings line, or an error. */
class FrameResult(val width: Int, val height: Int, val results: List<EmotionResult>, val info: String, val error: String? = null)

/**
 * Owns the LiteRT runtimes and the core pipeline on one background thread (the analyzer thread):
 * the pipeline and the interpreters are only touched there.
 */
class PipelineRunner(private val context: Context) {
    val executor: ExecutorService = Executors.newSingleThreadExecutor()
    private var faces: LiteRtFaceRuntime? = null
    private var emotion: LiteRtEmotionRuntime? = null
    private var pipeline: EmotionPipeline? = null
    private var loadError: String? = null
    private var lastTs = Long.MIN_VALUE
    @Volatile var modelName: String = ""
        private set

    /** Rebuild interpreters + pipeline for [s] (on the executor). */
    fun configure(s: DemoSettings) = executor.execute {
        release()
        try {
            val models = ModelAssets.emotionModels(context)
            modelName = s.emotionModel.takeIf { it in models } ?: models.firstOrNull()
                ?: throw ModelAssetException("no lrdif-*.tflite in the app's assets: run android_demo/copy-models.sh and rebuild")
            val f = LiteRtFaceRuntime(context, s).also { faces = it }
            val e = LiteRtEmotionRuntime(context, modelName, s).also { emotion = it }
            val mode = if (f.hasFullRange) FaceDetectorMode.AUTO else FaceDetectorMode.SHORT
            pipeline = EmotionPipeline(f, e, PipelineOptions(maxFaces = s.maxFaces, smoothing = s.smoothing, faceDetector = mode))
            loadError = null
        } catch (e: RuntimeException) {
            Log.e(LiteRtModel.TAG, "cannot load the models", e)
            loadError = e.message ?: e.toString()
            release()
        }
    }

    private fun release() {
        pipeline = null
        faces?.close(); faces = null
        emotion?.close(); emotion = null
        lastTs = Long.MIN_VALUE
    }

    /** Run one frame: VIDEO mode (tracks + smoothing) for the camera, IMAGE mode for stills. Executor thread only. */
    fun run(frame: RgbImage, video: Boolean, timestampMs: Long = 0): FrameResult {
        val p = pipeline ?: return FrameResult(frame.width, frame.height, emptyList(), "", loadError ?: "loading models")
        return try {
            val results = if (video) {
                val ts = maxOf(timestampMs, lastTs + 1).also { lastTs = it }
                p.predictForVideo(frame, ts)
            } else {
                p.resetTracking()
                p.predict(frame)
            }
            val info = "$modelName  ${emotion?.delegate}  ${frame.width}x${frame.height}\n${p.timings}  total ${"%.1f".format(p.timings.totalMillis)} ms"
            FrameResult(frame.width, frame.height, results, info)
        } catch (e: RuntimeException) {
            Log.e(LiteRtModel.TAG, "frame failed", e)
            FrameResult(frame.width, frame.height, emptyList(), "", e.message)
        }
    }

    /** New camera: forget the tracks and the timestamps. */
    fun resetTracking() = executor.execute {
        pipeline?.resetTracking()
        lastTs = Long.MIN_VALUE
    }

    fun shutdown() {
        executor.execute { release() }
        executor.shutdown()
    }
}
