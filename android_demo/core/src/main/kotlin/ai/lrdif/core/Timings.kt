package ai.lrdif.core

/** Wall time per model of the last frame (the app's inference-time readout). */
class Timings {
    enum class Stage { DETECTOR, LANDMARKER, EMOTION }

    private val nanos = LongArray(Stage.values().size)

    fun reset() = nanos.fill(0L)

    fun <T> time(stage: Stage, block: () -> T): T {
        val t0 = System.nanoTime()
        try {
            return block()
        } finally {
            nanos[stage.ordinal] += System.nanoTime() - t0
        }
    }

    fun millis(stage: Stage): Double = nanos[stage.ordinal] / 1e6

    val totalMillis: Double get() = nanos.sum() / 1e6

    override fun toString(): String = Stage.values().joinToString("  ") {
        "${it.name.lowercase()} ${String.format(java.util.Locale.ROOT, "%.1f", millis(it))} ms"
    }
}
