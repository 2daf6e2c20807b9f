package ai.lrdif.core

/** The one label order of lrdif (FER+ vote-column order); 7-class mode = the first 7. */
object Labels {
    val LABELS_8 = listOf("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    val LABELS_7 = LABELS_8.subList(0, 7)
}

/** How the emotion crop is cut from 468 FaceMesh landmarks (port of `lrdif.sdk.metadata.CropSpec`). */
data class CropSpec(
    val rule: String = RULE,
    val size: Int = 64,
    val scale: Double = 1.12,
    val shiftY: Double = -0.05,
) {
    /** The checks of `lrdif.sdk.face.crop.check_crop_spec`. */
    fun check(): CropSpec {
        if (rule != RULE) throw MetadataException("unsupported crop rule '$rule' (this SDK implements '$RULE')")
        if (size < 8) throw MetadataException("crop size must be an int >= 8, got $size")
        if (!(scale.isFinite() && scale > 0)) throw MetadataException("crop scale must be positive, got $scale")
        if (!shiftY.isFinite()) throw MetadataException("crop shift_y must be finite, got $shiftY")
        return this
    }

    companion object {
        const val RULE = "facemesh-eye-aligned-square"
    }
}

/**
 * Everything a runtime needs to feed the emotion model and read its outputs: a port of
 * `lrdif.sdk.metadata.ModelMetadata` (schema "lrdif.model/1", JSON under key `lrdif_metadata`).
 * Construct with [ModelMetadata.fromJson] / [fromMap]; [validate] raises [MetadataException] with
 * the SDK's messages.
 */
data class ModelMetadata(
    val labels: List<String> = Labels.LABELS_8,
    val inputSize: Int = 64,
    val inputLayout: String = "NCHW",
    val colourOrder: String = "RGB",
    val mean: List<Double> = listOf(0.5, 0.5, 0.5),
    val std: List<Double> = listOf(0.5, 0.5, 0.5),
    val crop: CropSpec = CropSpec(),
    val landmarkScheme: String = "mediapipe-facemesh-468",
    val landmarkSpace: String = "crop-normalised-xy",
    val numLandmarks: Int = 468,
    val diffusionSteps: Int = 4,
    val temperature: Double = 1.0,
    val quantisation: String = "none",
    val batch: Int = 0,
    val inputNames: List<String> = listOf("image", "landmarks"),
    val outputNames: List<String> = listOf("probabilities", "logits"),
    val modelName: String = "lrdif-mobile",
    val modelVersion: String = "0.1.0",
    val preset: String = "mobile",
    val licence: String = "Research use only (weights trained on FER2013/FER+ images)",
    val trainingData: String = "FERPlus train split, clean + simulated UDC + low-light",
    val weightsSha256: String = "",
    val target: String = "",
    val schema: String = SCHEMA,
) {
    val numClasses: Int get() = labels.size

    fun validate(): ModelMetadata {
        if (schema != SCHEMA) throw MetadataException("unsupported metadata schema '${schema}' (expected '$SCHEMA')")
        if (labels != Labels.LABELS_7 && labels != Labels.LABELS_8)
            throw MetadataException("labels must be the lrdif 7- or 8-class order, got ${Json.repr(labels)}")
        if (inputSize < 8) throw MetadataException("input_size must be an int >= 8, got $inputSize")
        if (inputLayout != "NCHW" && inputLayout != "NHWC")
            throw MetadataException("input_layout must be NCHW or NHWC, got ${Json.repr(inputLayout)}")
        if (colourOrder != "RGB" && colourOrder != "BGR")
            throw MetadataException("colour_order must be RGB or BGR, got ${Json.repr(colourOrder)}")
        for ((name, v) in listOf("mean" to mean, "std" to std)) {
            if (v.size != 3 || !v.all { it.isFinite() })
                throw MetadataException("$name must be three finite numbers, got ${Json.repr(v, tuple = true)}")
        }
        if (std.any { it <= 0 }) throw MetadataException("std must be positive, got ${Json.repr(std, tuple = true)}")
        if (crop.size != inputSize) throw MetadataException("crop.size ${crop.size} != input_size $inputSize")
        if (diffusionSteps < 0) throw MetadataException("diffusion_steps must be an int >= 0, got $diffusionSteps")
        if (!(temperature.isFinite() && temperature > 0))
            throw MetadataException("temperature must be a positive finite number, got ${Json.repr(temperature)}")
        if (batch < 0) throw MetadataException("batch must be >= 0, got $batch")
        return this
    }

    companion object {
        const val SCHEMA = "lrdif.model/1"
        const val METADATA_KEY = "lrdif_metadata"

        fun fromJson(text: String): ModelMetadata {
            val d = try {
                Json.parse(text)
            } catch (e: JsonException) {
                throw MetadataException("metadata is not valid JSON: ${e.message}")
            }
            return fromMap(d)
        }

        /** `ModelMetadata.from_dict`: unknown fields, a missing schema and wrong types are errors. */
        fun fromMap(d: Any?): ModelMetadata {
            if (d !is Map<*, *>) throw MetadataException("metadata must be a JSON object, got ${Json.typeName(d)}")
            val unknown = d.keys.map { it.toString() }.filter { it !in FIELDS }.sorted()
            if (unknown.isNotEmpty()) throw MetadataException("unknown metadata fields: ${Json.repr(unknown)}")
            if ("schema" !in d) throw MetadataException("metadata has no 'schema' field: not an lrdif model")
            return MetadataFields(d).build().validate()
        }

        val FIELDS = setOf(
            "labels", "input_size", "input_layout", "colour_order", "mean", "std", "crop", "landmark_scheme",
            "landmark_space", "num_landmarks", "diffusion_steps", "temperature", "quantisation", "batch",
            "input_names", "output_names", "model_name", "model_version", "preset", "licence",
            "training_data", "weights_sha256", "target", "schema",
        )
    }
}
