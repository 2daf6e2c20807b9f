package ai.lrdif.core

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.security.MessageDigest

/** Where the tests find their inputs (paths relative to android_demo/core, Gradle's test working dir). */
object TestPaths {
    val goldenDir = File(System.getProperty("lrdif.golden.dir", "src/test/resources/golden"))
    val repoRoot = File(System.getProperty("lrdif.repo.root", "../.."))
    /** The SDK's model manifest ({"file": name, "sha256": hex, ...}), read with the core's [Json]. */
    val manifestFile = File(repoRoot, "sdk/models/manifest.json")
    val manifest: Map<*, *> by lazy { Json.parse(manifestFile.readText()) as Map<*, *> }
    /** The shipped default emotion model: sdk/models/<the manifest's "file">. */
    val shippedModel: File by lazy {
        val name = manifest["file"] as String
        check(File(name).name == name) { "$manifestFile: 'file' must be a plain file name, got '$name'" }
        File(manifestFile.parentFile, name)
    }
    /**
     * Fixtures made by core-test.sh: a BlazeFace .tflite with lrdif metadata appended, and the
     * original; lrdif_mobile.onnx, a small ONNX model carrying the shipped model's metadata
     * (target onnx) in metadata_props, and lrdif_mobile.expected.json, the SDK's reading of it.
     */
    val fixtures = File(System.getProperty("lrdif.fixtures.dir", "build/fixtures"))
    /** core-test.sh sets this: a missing fixture is then a failure, not a skipped test. */
    val requireFixtures = System.getProperty("lrdif.require.fixtures") == "true"
}

/** One tensor of a golden .bin file ("lrdif.golden/1": little-endian, C order). */
class Tensor(val dtype: String, val shape: List<Int>, private val buf: ByteBuffer) {
    val count: Int get() = shape.fold(1) { a, b -> a * b }

    fun floats(): FloatArray = when (dtype) {
        "float32" -> FloatArray(count) { buf.getFloat(it * 4) }
        "float64" -> FloatArray(count) { buf.getDouble(it * 8).toFloat() }
        else -> error("tensor is $dtype, not float")
    }

    fun bytes(): ByteArray {
        check(dtype == "uint8") { "tensor is $dtype, not uint8" }
        return ByteArray(count) { buf.get(it) }
    }

    fun ints(): IntArray {
        check(dtype == "int32") { "tensor is $dtype, not int32" }
        return IntArray(count) { buf.getInt(it * 4) }
    }

    /** Image n of an (N, H, W, 3) uint8 tensor, or the whole (H, W, 3) tensor. */
    fun image(n: Int = 0): RgbImage {
        val (h, w) = if (shape.size == 4) shape[1] to shape[2] else shape[0] to shape[1]
        val all = bytes()
        return RgbImage(w, h, all.copyOfRange(n * h * w * 3, (n + 1) * h * w * 3))
    }
}

class GoldenCall(val model: String, val roi: List<Double>?, val tensors: Map<String, Tensor>)

class GoldenFrame(val dir: File, private val m: Map<*, *>) {
    private val blob: ByteArray by lazy { File(dir, m["file"] as String).readBytes() }
    val name = m["name"] as String
    val width = (m["width"] as Long).toInt()
    val height = (m["height"] as Long).toInt()
    val timestampMs: Long? = m["timestamp_ms"] as Long?
    val frameFile = File(dir, m["frame_file"] as String)
    val frameSha256 = m["frame_sha256"] as String

    fun tensor(entry: Any?): Tensor {
        val e = entry as Map<*, *>
        val off = (e["offset"] as Long).toInt()
        val n = (e["nbytes"] as Long).toInt()
        val bb = ByteBuffer.wrap(blob, off, n).slice().order(ByteOrder.LITTLE_ENDIAN)
        return Tensor(e["dtype"] as String, (e["shape"] as List<*>).map { (it as Long).toInt() }, bb)
    }

    val calls: List<GoldenCall> by lazy {
        (m["calls"] as List<*>).map { c ->
            c as Map<*, *>
            GoldenCall(c["model"] as String, (c["roi"] as List<*>?)?.map { (it as Number).toDouble() },
                (c["tensors"] as Map<*, *>).entries.associate { (k, v) -> k as String to tensor(v) })
        }
    }

    val detections: Tensor by lazy { tensor(m["detections"]) }
    private val faces = m["faces"] as Map<*, *>
    fun face(key: String): Tensor = tensor(faces[key])
    val labels: List<String> get() = strings("labels")
    fun strings(key: String): List<String> = (faces[key] as List<*>).map { it as String }

    fun frame(): RgbImage {
        if (!frameFile.isFile) {
            val msg = "golden frame $frameFile is missing: run .venv/bin/python -m lrdif.sdk.golden " +
                "--frames-only ${dir.path} (core-test.sh does)"
            if (TestPaths.requireFixtures) throw AssertionError(msg)
            org.junit.Assume.assumeTrue(msg, false)
        }
        val data = frameFile.readBytes()
        val sha = MessageDigest.getInstance("SHA-256").digest(data).joinToString("") { "%02x".format(it) }
        if (sha != frameSha256) throw AssertionError("$frameFile: sha256 $sha != index $frameSha256")
        return RgbImage(width, height, data)
    }
}

class GoldenCase(val name: String, val mode: String, val frames: List<GoldenFrame>)

/** The golden index (see lrdif.sdk.golden's docstring). */
class Golden(val dir: File = TestPaths.goldenDir) {
    private val index: Map<*, *> = run {
        val f = File(dir, "index.json")
        if (!f.isFile) throw AssertionError("no golden index at ${f.absolutePath}: run python -m lrdif.sdk.golden $dir")
        Json.parse(f.readText()) as Map<*, *>
    }
    val schema = index["schema"] as String
    val metadataMap = index["metadata"]
    val metadata: ModelMetadata = ModelMetadata.fromMap(metadataMap)
    val modelFile = index["model_file"] as String
    val modelSha256 = index["model_sha256"] as String
    private fun section(k: String) = index[k] as Map<*, *>
    fun detector(k: String): Any? = section("detector")[k]
    fun landmarker(k: String): Any? = section("landmarker")[k]
    fun recognizer(k: String): Any? = section("recognizer")[k]

    val options = PipelineOptions(
        maxFaces = (recognizer("max_faces") as Long).toInt(),
        minDetectionConfidence = (detector("min_score") as Number).toDouble(),
        minPresenceConfidence = (landmarker("min_presence") as Number).toDouble(),
        smoothing = (recognizer("smoothing") as Number).toDouble(),
        redetectInterval = (recognizer("redetect_interval") as Long).toInt(),
    )

    val cases: List<GoldenCase> = (index["cases"] as List<*>).map { c ->
        c as Map<*, *>
        GoldenCase(c["name"] as String, c["mode"] as String, (c["frames"] as List<*>).map { GoldenFrame(dir, it as Map<*, *>) })
    }
}
