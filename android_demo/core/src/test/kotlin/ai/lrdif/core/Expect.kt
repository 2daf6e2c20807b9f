package ai.lrdif.core

import org.junit.Assert.assertTrue
import org.junit.Assert.fail

/** Run [block], expect an exception of type [T] whose message contains every one of [parts]. */
inline fun <reified T : Throwable> expectThrows(vararg parts: String, block: () -> Unit): T {
    try {
        block()
    } catch (e: Throwable) {
        if (e !is T) throw AssertionError("expected ${T::class.simpleName}, got ${e::class.simpleName}: ${e.message}", e)
        for (p in parts) assertTrue("message '${e.message}' lacks '$p'", e.message?.contains(p) == true)
        return e
    }
    fail("expected ${T::class.simpleName} (${parts.joinToString()}), nothing was thrown")
    throw IllegalStateException()
}
