package ai.lrdif.demo

import android.content.Context
import java.io.FileNotFoundException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest

/** A model the app needs is not in assets, or not the expected file. */
class ModelAssetException(message: String) : RuntimeException(message)

/** The three models, read from src/main/assets (put there by copy-models.sh, see README). */
object ModelAssets {
    const val DETECTOR = "face_detection_short_range.tflite"
    const val LANDMARKER = "face_landmark.tflite"
    /** Optional: without it the app runs the short-range detector only (faces within ~2 m). */
    const val DETECTOR_FULL = "face_detection_full_range_sparse.tflite"

    /** The same pins as lrdif.sdk.assets (MediaPipe 0.10.21 wheel): a different file would decode wrongly. */
    private val SHA256 = mapOf(
        DETECTOR to "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        LANDMARKER to "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        DETECTOR_FULL to "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    )

    /** lrdif-*.tflite emotion models in assets, sorted (fp32 before int8). */
    fun emotionModels(context: Context): List<String> =
        context.assets.list("").orEmpty().filter { it.startsWith("lrdif-") && it.endsWith(".tflite") }.sorted()

    fun has(context: Context, name: String): Boolean = name in context.assets.list("").orEmpty()

    fun bytes(context: Context, name: String): ByteArray = try {
        context.assets.open(name).use { it.readBytes() }
    } catch (e: FileNotFoundException) {
        throw ModelAssetException("$name is not in the app's assets: run android_demo/copy-models.sh and rebuild")
    }

    /** A face model, checked against its pinned sha256. */
    fun faceModel(context: Context, name: String): ByteArray {
        val data = bytes(context, name)
        val digest = MessageDigest.getInstance("SHA-256").digest(data).joinToString("") { "%02x".format(it) }
        if (digest != SHA256[name]) throw ModelAssetException(
            "$name has sha256 ${digest.take(12)}..., expected ${SHA256[name]?.take(12)}... (the MediaPipe 0.10.21 " +
                "model lrdif-setup caches): copy it again with copy-models.sh")
        return data
    }

    /** LiteRT needs a direct buffer in native order. */
    fun direct(data: ByteArray): ByteBuffer =
        ByteBuffer.allocateDirect(data.size).order(ByteOrder.nativeOrder()).apply { put(data); rewind() }
}
