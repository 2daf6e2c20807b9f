package ai.lrdif.core

import org.junit.Assert.assertEquals
import org.junit.Test

/** ModelMetadata: the SDK's schema, defaults and validation messages. */
class MetadataTest {
    private val full = Golden().metadataMap as Map<*, *>

    private fun with(key: String, value: Any?): String {
        val m = LinkedHashMap<Any?, Any?>(full)
        if (value === REMOVE) m.remove(key) else m[key] = value
        return toJson(m)
    }

    private fun toJson(v: Any?): String = when (v) {
        null -> "null"
        is String -> "\"" + v.replace("\"", "\\\"") + "\""
        is Map<*, *> -> v.entries.joinToString(",", "{", "}") { toJson(it.key) + ":" + toJson(it.value) }
        is List<*> -> v.joinToString(",", "[", "]") { toJson(it) }
        else -> v.toString()
    }

    @Test fun goldenMetadataRoundTrip() {
        val md = ModelMetadata.fromJson(toJson(full))
        assertEquals(Labels.LABELS_8, md.labels)
        assertEquals(64, md.inputSize)
        assertEquals(CropSpec(size = 64, scale = 1.12, shiftY = -0.05), md.crop)
        assertEquals(ModelMetadata.SCHEMA, md.schema)
        assertEquals(md, ModelMetadata.fromMap(full))
    }

    @Test fun defaultsLikeTheSdk() {
        val md = ModelMetadata.fromJson("""{"schema": "lrdif.model/1"}""")
        assertEquals(1.0, md.temperature, 0.0)
        assertEquals(0, md.batch)
        assertEquals("NCHW", md.inputLayout)
        assertEquals(listOf("image", "landmarks"), md.inputNames)
    }

    @Test fun temperatureField() {
        assertEquals(1.5, ModelMetadata.fromJson(with("temperature", 1.5)).temperature, 0.0)
        expectThrows<MetadataException>("temperature must be a positive finite number, got 0.0") {
            ModelMetadata.fromJson(with("temperature", 0.0))
        }
        expectThrows<MetadataException>("temperature must be a positive finite number, got -1") {
            ModelMetadata.fromJson(with("temperature", -1))
        }
        expectThrows<MetadataException>("temperature must be a positive finite number, got nan") {
            ModelMetadata.fromJson(with("temperature", Double.NaN))
        }
        expectThrows<MetadataException>("temperature must be a positive finite number, got True") {
            ModelMetadata.fromJson(with("temperature", true))
        }
    }

    @Test fun validationMessages() {
        expectThrows<MetadataException>("unknown metadata fields: ['colour', 'zzz']") {
            val m = LinkedHashMap<Any?, Any?>(full); m["zzz"] = 1; m["colour"] = "RGB"
            ModelMetadata.fromJson(toJson(m))
        }
        expectThrows<MetadataException>("metadata has no 'schema' field: not an lrdif model") {
            ModelMetadata.fromJson(with("schema", REMOVE))
        }
        expectThrows<MetadataException>("unsupported metadata schema 'lrdif.model/2'") {
            ModelMetadata.fromJson(with("schema", "lrdif.model/2"))
        }
        expectThrows<MetadataException>("labels must be the lrdif 7- or 8-class order") {
            ModelMetadata.fromJson(with("labels", listOf("happiness", "neutral")))
        }
        assertEquals(Labels.LABELS_7, ModelMetadata.fromJson(with("labels", Labels.LABELS_7)).labels)
        expectThrows<MetadataException>("input_size must be an int >= 8, got 64.0") {
            ModelMetadata.fromJson(with("input_size", 64.0))
        }
        expectThrows<MetadataException>("input_layout must be NCHW or NHWC, got 'CHW'") {
            ModelMetadata.fromJson(with("input_layout", "CHW"))
        }
        expectThrows<MetadataException>("colour_order must be RGB or BGR, got 'RGBA'") {
            ModelMetadata.fromJson(with("colour_order", "RGBA"))
        }
        expectThrows<MetadataException>("std must be positive, got (0.5, 0.0, 0.5)") {
            ModelMetadata.fromJson(with("std", listOf(0.5, 0.0, 0.5)))
        }
        expectThrows<MetadataException>("mean must be three finite numbers, got (0.5, 0.5)") {
            ModelMetadata.fromJson(with("mean", listOf(0.5, 0.5)))
        }
        expectThrows<MetadataException>("crop.size 64 != input_size 96") {
            ModelMetadata.fromJson(with("input_size", 96))
        }
        expectThrows<MetadataException>("batch must be >= 0, got -1") { ModelMetadata.fromJson(with("batch", -1)) }
        expectThrows<MetadataException>("metadata must be a JSON object, got list") { ModelMetadata.fromJson("[1, 2]") }
        expectThrows<MetadataException>("metadata is not valid JSON") { ModelMetadata.fromJson("{\"schema\": ") }
    }

    @Test fun cropSpecChecks() {
        expectThrows<MetadataException>("unsupported crop rule 'bbox'") { CropSpec(rule = "bbox").check() }
        expectThrows<MetadataException>("crop scale must be positive") { CropSpec(scale = 0.0).check() }
        expectThrows<MetadataException>("CropSpec got an unexpected field 'angle'") {
            ModelMetadata.fromJson(with("crop", mapOf("size" to 64, "angle" to 1)))
        }
    }

    @Test fun jsonReader() {
        val v = Json.parse("""{"a": [1, 2.5, -3e-2, true, null, "x\"\u00e9"], "b": {}}""") as Map<*, *>
        assertEquals(listOf(1L, 2.5, -0.03, true, null, "x\"é"), v["a"])
        expectThrows<JsonException>("extra data") { Json.parse("{} {}") }
        expectThrows<JsonException>("Expecting") { Json.parse("{\"a\" 1}") }
    }

    companion object {
        val REMOVE = Any()
    }
}
