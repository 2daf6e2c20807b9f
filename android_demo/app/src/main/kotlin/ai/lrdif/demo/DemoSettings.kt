package ai.lrdif.demo

/** What the settings sheet changes; a new value rebuilds the interpreters and the pipeline. */
enum class Delegate { CPU, GPU }

data class DemoSettings(
    val threads: Int = 2,
    val delegate: Delegate = Delegate.CPU,
    /** VIDEO-mode EMA factor (the SDK's `smoothing`, default 0.6; 0 = off). */
    val smoothing: Double = 0.6,
    val maxFaces: Int = 4,
    /** Asset name of the emotion model (lrdif-*.tflite); empty = the first one found. */
    val emotionModel: String = "",
)
