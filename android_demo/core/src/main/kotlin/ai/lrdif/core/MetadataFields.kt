package ai.lrdif.core

/** Typed access to the fields of a metadata JSON object; a wrong type is a [MetadataException]. */
internal class MetadataFields(private val d: Map<*, *>) {
    private fun bad(key: String, want: String, v: Any?): Nothing =
        throw MetadataException("malformed metadata: $key must be $want, got ${Json.typeName(v)} ${Json.repr(v)}")

    private fun str(key: String, def: String): String {
        if (key !in d) return def
        val v = d[key]
        return v as? String ?: bad(key, "a string", v)
    }

    /** An int field; the SDK's own check ("must be an int >= 8, got 64.0") runs for floats. */
    private fun int(key: String, def: Int, whenFloat: (Any?) -> String): Int {
        if (key !in d) return def
        return when (val v = d[key]) {
            is Long -> if (v in Int.MIN_VALUE..Int.MAX_VALUE) v.toInt() else bad(key, "an int", v)
            is Double -> throw MetadataException(whenFloat(v))
            else -> bad(key, "an int", v)
        }
    }

    private fun num(v: Any?): Double? = when (v) {
        is Long -> v.toDouble()
        is Double -> v
        else -> null
    }

    private fun strList(key: String, def: List<String>): List<String> {
        if (key !in d) return def
        val v = d[key] as? List<*> ?: bad(key, "a list of strings", d[key])
        return v.map { it as? String ?: bad(key, "a list of strings", d[key]) }
    }

    private fun numList(key: String, def: List<Double>): List<Double> {
        if (key !in d) return def
        val v = d[key] as? List<*> ?: throw MetadataException("$key must be three finite numbers, got ${Json.repr(d[key])}")
        return v.map {
            num(it) ?: throw MetadataException("$key must be three finite numbers, got ${Json.repr(v, tuple = true)}")
        }
    }

    private fun crop(): CropSpec {
        if ("crop" !in d) return CropSpec()
        val c = d["crop"] as? Map<*, *> ?: bad("crop", "an object", d["crop"])
        val unknown = c.keys.map { it.toString() }.filter { it !in setOf("rule", "size", "scale", "shift_y") }
        if (unknown.isNotEmpty())
            throw MetadataException("malformed metadata: CropSpec got an unexpected field '${unknown.first()}'")
        val f = MetadataFields(c)
        val scale = if ("scale" in c) num(c["scale"]) ?: bad("crop.scale", "a number", c["scale"]) else 1.12
        val shift = if ("shift_y" in c) num(c["shift_y"]) ?: bad("crop.shift_y", "a number", c["shift_y"]) else -0.05
        return CropSpec(f.str("rule", CropSpec.RULE), f.int("size", 64) { "crop size must be an int >= 8, got ${Json.repr(it)}" },
            scale, shift)
    }

    fun build(): ModelMetadata {
        val def = ModelMetadata()
        val temp = if ("temperature" in d) {
            val v = d["temperature"]
            num(v) ?: throw MetadataException("temperature must be a positive finite number, got ${Json.repr(v)}")
        } else 1.0
        return ModelMetadata(
            labels = strList("labels", def.labels),
            inputSize = int("input_size", 64) { "input_size must be an int >= 8, got ${Json.repr(it)}" },
            inputLayout = str("input_layout", def.inputLayout), colourOrder = str("colour_order", def.colourOrder),
            mean = numList("mean", def.mean), std = numList("std", def.std), crop = crop(),
            landmarkScheme = str("landmark_scheme", def.landmarkScheme),
            landmarkSpace = str("landmark_space", def.landmarkSpace),
            numLandmarks = int("num_landmarks", 468) { "num_landmarks must be an int, got ${Json.repr(it)}" },
            diffusionSteps = int("diffusion_steps", 4) { "diffusion_steps must be an int >= 0, got ${Json.repr(it)}" },
            temperature = temp, quantisation = str("quantisation", def.quantisation),
            batch = int("batch", 0) { "batch must be an int >= 0, got ${Json.repr(it)}" },
            inputNames = strList("input_names", def.inputNames), outputNames = strList("output_names", def.outputNames),
            modelName = str("model_name", def.modelName), modelVersion = str("model_version", def.modelVersion),
            preset = str("preset", def.preset), licence = str("licence", def.licence),
            trainingData = str("training_data", def.trainingData), weightsSha256 = str("weights_sha256", ""),
            target = str("target", ""), schema = str("schema", ModelMetadata.SCHEMA),
        )
    }
}
