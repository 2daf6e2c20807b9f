package ai.lrdif.core

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/** The test classes run by core-test.sh (Gradle finds them itself). */
val ALL_TESTS = arrayOf<Class<*>>(
    GoldenReplayTest::class.java, MetadataTest::class.java, ArtifactMetadataTest::class.java,
    GeometryTest::class.java, BadInputTest::class.java, ModelIoTest::class.java, BoxSanityTest::class.java,
)

/** JUnitCore with a plain summary line "N passed, N failed" (what CI reads); exit 1 on any failure. */
fun main() {
    var failed = 0
    var skipped = 0
    var started = 0
    val core = JUnitCore()
    core.addListener(object : RunListener() {
        override fun testStarted(d: Description) { started++ }
        override fun testFailure(f: Failure) {
            failed++
            println("FAIL ${f.description.displayName}: ${f.message}")
            f.exception.stackTrace.firstOrNull { it.className.startsWith("ai.lrdif") }?.let { println("     at $it") }
        }
        override fun testAssumptionFailure(f: Failure) {
            skipped++
            println("SKIP ${f.description.displayName}: ${f.message}")
        }
        override fun testFinished(d: Description) {}
    })
    val result = core.run(*ALL_TESTS)
    println("largest differences from the SDK (golden replay):")
    for ((k, v) in Stats.maxDiff) {
        val n = Stats.count[k] ?: 0
        if (!k.endsWith("(bytes compared)")) println("  %-44s max |diff| %.3g%s".format(k, v,
            Stats.count["$k (bytes compared)"]?.let { "  ($n of $it bytes differ)" } ?: ""))
    }
    val passed = started - failed - skipped
    if (skipped > 0) println("$skipped skipped")
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && result.failureCount == 0) 0 else 1)
}
