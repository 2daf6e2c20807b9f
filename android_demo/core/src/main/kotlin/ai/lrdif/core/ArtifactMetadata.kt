package ai.lrdif.core

import java.io.File
import java.io.FileNotFoundException

/**
 * Reads the lrdif [ModelMetadata] embedded in an exported model (port of
 * `lrdif.sdk.artifact_metadata.read_metadata` for the two single-file formats a phone loads):
 * `.tflite` (a zip appended after the flatbuffer holding `metadata.json` = {"lrdif_metadata": {...}})
 * and `.onnx` (`ModelProto.metadata_props` entry `lrdif_metadata`). Messages are the SDK's.
 */
object ArtifactMetadata {
    const val TFLITE_METADATA_MEMBER = "metadata.json"
    private const val KEY = ModelMetadata.METADATA_KEY
    private val SUFFIX_FORMAT = mapOf(".onnx" to "onnx", ".tflite" to "tflite", ".pte" to "executorch",
        ".mlpackage" to "coreml", ".mlmodel" to "coreml")

    /** 'tflite' | 'executorch' | 'onnx' from the magic bytes (the SDK's `detect_format` for bytes). */
    fun detectFormat(data: ByteArray): String = when {
        data.size >= 8 && String(data, 4, 4, Charsets.ISO_8859_1) == "TFL3" -> "tflite"
        data.size >= 6 && String(data, 4, 2, Charsets.ISO_8859_1) == "ET" -> "executorch"
        else -> "onnx"
    }

    fun detectFormat(file: File): String {
        val suffix = file.name.substringAfterLast('.', "").let { if (it.isEmpty()) "" else ".$it" }.lowercase()
        return SUFFIX_FORMAT[suffix] ?: throw MetadataException(
            "$file: unknown model format (expected one of ${SUFFIX_FORMAT.keys.sorted().joinToString(", ")})")
    }

    fun read(file: File, format: String? = null): ModelMetadata {
        val fmt = format ?: detectFormat(file)
        val data = try {
            if (file.isDirectory) throw MetadataException("$file: is a directory, expected a $fmt file")
            file.readBytes()
        } catch (e: FileNotFoundException) {
            throw MetadataException("$file: no such model")
        }
        return read(data, fmt, file.toString())
    }

    /** Metadata of a model held in memory (an Android asset); [where] names it in messages. */
    fun read(data: ByteArray, format: String? = null, where: String = "<bytes>"): ModelMetadata =
        when (val fmt = format ?: detectFormat(data)) {
            "onnx" -> readOnnx(data, where)
            "tflite" -> readTflite(data, where)
            "executorch", "coreml" -> throw MetadataException(
                "$where: $fmt metadata is not read by the Android core (use the .tflite or .onnx export)")
            else -> throw MetadataException("unknown format '$fmt'; one of onnx, tflite, executorch, coreml")
        }

    private fun parse(text: String, where: String, fmt: String): ModelMetadata {
        val md = try {
            ModelMetadata.fromJson(text)
        } catch (e: MetadataException) {
            throw MetadataException("$where: ${e.message}")
        }
        if (md.target.isNotEmpty() && md.target != fmt)
            throw MetadataException("$where: metadata says target '${md.target}' but the file is $fmt")
        return md
    }

    private fun readOnnx(data: ByteArray, where: String): ModelMetadata {
        val props = try {
            // ModelProto: graph = 7, metadata_props = 14
            val fields = Protobuf.fields(data)
            if (fields.isEmpty() || fields.none { it.num == 7 && it.wireType == 2 })
                throw Protobuf.WireException("no ONNX graph in the protobuf")
            Protobuf.stringMap(data, 0, data.size, 14)
        } catch (e: Protobuf.WireException) {
            throw ModelFileException("$where: not a readable ONNX model (${e.message})")
        }
        val text = props[KEY] ?: throw MetadataMissingException(
            "$where: no '$KEY' in the ONNX metadata_props: not an lrdif export (or exported without metadata)")
        return parse(text, where, "onnx")
    }

    private fun readTflite(data: ByteArray, where: String): ModelMetadata {
        if (data.size < 8 || String(data, 4, 4, Charsets.ISO_8859_1) != "TFL3")
            throw ModelFileException("$where: not a TFLite flatbuffer (no TFL3 identifier)")
        val zip = try {
            AppendedZip.open(data)
        } catch (e: AppendedZip.ZipException) {
            null
        }
        if (zip == null || TFLITE_METADATA_MEMBER !in zip.names) {
            if (AppendedZip.hasLocalHeader(data, TFLITE_METADATA_MEMBER))
                throw ModelFileException("$where: the zip holding '$TFLITE_METADATA_MEMBER' is cut short (no " +
                    "end-of-central-directory record): the model file is truncated; copy it again")
            throw MetadataMissingException("$where: no appended '$TFLITE_METADATA_MEMBER' holding '$KEY': " +
                "not an lrdif export (or exported without metadata)")
        }
        val inner = try {
            val doc = Json.parse(String(zip.read(TFLITE_METADATA_MEMBER), Charsets.UTF_8))
            if (doc !is Map<*, *>) throw MetadataException(
                "$where: malformed $TFLITE_METADATA_MEMBER (TypeError: ${Json.typeName(doc)} indices must be integers or slices, not str)")
            if (KEY !in doc) throw MetadataException("$where: malformed $TFLITE_METADATA_MEMBER (KeyError: '$KEY')")
            doc[KEY]
        } catch (e: AppendedZip.ZipException) {
            throw ModelFileException("$where: malformed $TFLITE_METADATA_MEMBER (BadZipFile: ${e.message})")
        } catch (e: JsonException) {
            throw MetadataException("$where: malformed $TFLITE_METADATA_MEMBER (JSONDecodeError: ${e.message})")
        }
        val md = try {
            ModelMetadata.fromMap(inner)
        } catch (e: MetadataException) {
            throw MetadataException("$where: ${e.message}")
        }
        if (md.target.isNotEmpty() && md.target != "tflite")
            throw MetadataException("$where: metadata says target '${md.target}' but the file is tflite")
        return md
    }

    /** Length of the flatbuffer proper (the appended zip removed): what LiteRT needs to see. */
    fun flatbufferLength(data: ByteArray): Int = try {
        AppendedZip.open(data)?.start ?: data.size
    } catch (e: AppendedZip.ZipException) {
        data.size
    }
}
