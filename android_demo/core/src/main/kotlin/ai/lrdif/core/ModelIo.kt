package ai.lrdif.core

/** One model input or output as a runtime reports it: name and shape (-1 or 0 = dynamic). */
data class TensorSpec(val name: String, val shape: IntArray)

/**
 * Matches the emotion model's tensors to the metadata's input/output names (port of the SDK's
 * LiteRT name handling + `validate_io`): 'serving_default_image:0' -> 'image'; generic names
 * ('args_0', 'output_1') are matched by position in natural order; shapes must agree with the
 * metadata (input_size, layout, classes, batch).
 */
object ModelIo {
    private val GENERIC = Regex("^(args|input|output)_\\d+$")
    private val TRAILING = Regex("^(.*?)(\\d+)$")

    fun shortName(name: String): String {
        var n = name.substringBefore(':').removePrefix("serving_default_")
        if (n.endsWith("_output") && n != "_output") n = n.removeSuffix("_output")
        return n
    }

    /** 'args_2' < 'args_10' (the SDK's `_natural`). */
    fun naturalOrder(names: List<String>): List<String> = names.sortedWith(compareBy<String>(
        { TRAILING.find(it)?.groupValues?.get(1) ?: it }, { TRAILING.find(it)?.groupValues?.get(2)?.toInt() ?: -1 }))

    private fun expected(meta: ModelMetadata): Map<String, IntArray> {
        val b = meta.batch
        val s = meta.inputSize
        val (image, landmarks) = meta.inputNames
        val (probs, logits) = meta.outputNames
        return mapOf(image to (if (meta.inputLayout == "NCHW") intArrayOf(b, 3, s, s) else intArrayOf(b, s, s, 3)),
            landmarks to intArrayOf(b, meta.numLandmarks, 2), probs to intArrayOf(b, meta.numClasses),
            logits to intArrayOf(b, meta.numClasses))
    }

    /** The SDK's `_shape_ok`: dynamic dims (<= 0) match anything, except a fixed batch where the metadata says dynamic. */
    fun shapeOk(shape: IntArray, exp: IntArray): Boolean {
        if (shape.size != exp.size) return false
        for (i in shape.indices) {
            val h = shape[i]
            val e = exp[i]
            if (h <= 0) continue
            if (e <= 0) { if (i == 0) return false; continue }
            if (h != e) return false
        }
        return true
    }

    private fun fmt(shape: IntArray) = shape.joinToString(", ", "(", ")") { if (it <= 0) "?" else it.toString() }

    /** metadata name -> the model's tensor name; [ModelLoadException] naming [source] on a mismatch. */
    fun resolve(meta: ModelMetadata, inputs: List<TensorSpec>, outputs: List<TensorSpec>, source: String): Map<String, String> {
        if (meta.inputNames.size != 2 || meta.outputNames.size != 2)
            throw ModelLoadException("$source: metadata must name 2 inputs (image, landmarks) and 2 outputs " +
                "(probabilities, logits), got ${meta.inputNames} / ${meta.outputNames}")
        val exp = expected(meta)
        val out = LinkedHashMap<String, String>()
        for ((kind, want, have) in listOf(Triple("input", meta.inputNames, inputs), Triple("output", meta.outputNames, outputs))) {
            val byShort = have.associateBy { shortName(it.name) }
            val positional = have.all { GENERIC.matches(shortName(it.name)) }
            val pairs = if (positional) {
                val ordered = naturalOrder(byShort.keys.toList()).map { byShort.getValue(it) }
                if ((kind == "input" && ordered.size != want.size) || ordered.size < want.size)
                    throw ModelLoadException("$source: the model has ${ordered.size} ${kind}s, metadata expects ${want.size} $want")
                want.zip(ordered)
            } else {
                val missing = want.filter { it !in byShort }
                if (missing.isNotEmpty() || (kind == "input" && have.size != want.size))
                    throw ModelLoadException("$source: model ${kind}s are ${byShort.keys.toList()}, metadata expects $want")
                want.map { it to byShort.getValue(it) }
            }
            for ((w, t) in pairs) {
                val e = exp.getValue(w)
                val ok = shapeOk(t.shape, e)
                if (!ok) throw ModelLoadException("$source: $kind '${t.name}' has shape ${fmt(t.shape)} but the metadata implies " +
                    "${fmt(e)} (input_size=${meta.inputSize}, layout=${meta.inputLayout}, classes=${meta.numClasses}, " +
                    "batch=${if (meta.batch == 0) "dynamic" else meta.batch})")
                out[w] = t.name
            }
        }
        return out
    }
}
