package ai.lrdif.core

/**
 * Minimal JSON reader (RFC 8259 plus Python's NaN / Infinity tokens, as `json.loads` accepts them).
 * Objects -> LinkedHashMap<String, Any?>, arrays -> List<Any?>, integers -> Long, other numbers ->
 * Double, strings, booleans, null. Kept here so the core has no dependency (org.json on Android,
 * nothing on a plain JVM).
 */
class JsonException(message: String) : RuntimeException(message)

object Json {
    fun parse(text: String): Any? {
        val p = Parser(text)
        p.skipWs()
        val v = p.value()
        p.skipWs()
        if (p.pos != text.length) p.fail("extra data")
        return v
    }

    /** Python's `type(x).__name__` for a parsed value (for error messages shaped like the SDK's). */
    fun typeName(v: Any?): String = when (v) {
        null -> "NoneType"
        is Map<*, *> -> "dict"
        is List<*> -> "list"
        is String -> "str"
        is Boolean -> "bool"
        is Long -> "int"
        is Double -> "float"
        else -> v::class.simpleName ?: "object"
    }

    /** Python's `repr` of a parsed value (approximate for floats; enough for messages). */
    fun repr(v: Any?, tuple: Boolean = false): String = when (v) {
        null -> "None"
        is String -> "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        is Boolean -> if (v) "True" else "False"
        is Double -> pyFloat(v)
        is List<*> -> if (tuple) v.joinToString(", ", "(", if (v.size == 1) ",)" else ")") { repr(it) }
                      else v.joinToString(", ", "[", "]") { repr(it) }
        is Map<*, *> -> v.entries.joinToString(", ", "{", "}") { repr(it.key) + ": " + repr(it.value) }
        else -> v.toString()
    }

    private fun pyFloat(d: Double): String = when {
        d.isNaN() -> "nan"
        d.isInfinite() -> if (d > 0) "inf" else "-inf"
        d == Math.floor(d) && Math.abs(d) < 1e16 -> String.format(java.util.Locale.ROOT, "%.1f", d)
        else -> d.toString().replace("E-", "e-0").replace("E", "e+")
    }

    private class Parser(val s: String) {
        var pos = 0

        fun fail(what: String): Nothing {
            val line = s.substring(0, minOf(pos, s.length)).count { it == '\n' } + 1
            throw JsonException("$what: line $line (char $pos)")
        }

        fun skipWs() {
            while (pos < s.length && s[pos] in " \t\r\n") pos++
        }

        fun value(): Any? {
            if (pos >= s.length) fail("Expecting value")
            return when (val c = s[pos]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> str()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                'N' -> word("NaN", Double.NaN)
                'I' -> word("Infinity", Double.POSITIVE_INFINITY)
                else -> if (c == '-' || c.isDigit()) num() else fail("Expecting value")
            }
        }

        fun word(w: String, v: Any?): Any? {
            if (!s.startsWith(w, pos)) fail("Expecting value")
            pos += w.length
            return v
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipWs()
            if (pos < s.length && s[pos] == '}') { pos++; return out }
            while (true) {
                skipWs()
                if (pos >= s.length || s[pos] != '"') fail("Expecting property name enclosed in double quotes")
                val k = str()
                skipWs()
                if (pos >= s.length || s[pos] != ':') fail("Expecting ':' delimiter")
                pos++
                skipWs()
                out[k] = value()
                skipWs()
                if (pos >= s.length) fail("Expecting ',' delimiter")
                if (s[pos] == ',') { pos++; continue }
                if (s[pos] == '}') { pos++; return out }
                fail("Expecting ',' delimiter")
            }
        }

        fun arr(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipWs()
            if (pos < s.length && s[pos] == ']') { pos++; return out }
            while (true) {
                skipWs()
                out.add(value())
                skipWs()
                if (pos >= s.length) fail("Expecting ',' delimiter")
                if (s[pos] == ',') { pos++; continue }
                if (s[pos] == ']') { pos++; return out }
                fail("Expecting ',' delimiter")
            }
        }

        fun str(): String {
            val sb = StringBuilder()
            pos++
            while (true) {
                if (pos >= s.length) fail("Unterminated string starting at")
                val c = s[pos++]
                when {
                    c == '"' -> return sb.toString()
                    c == '\\' -> {
                        if (pos >= s.length) fail("Unterminated string starting at")
                        when (val e = s[pos++]) {
                            'n' -> sb.append('\n'); 't' -> sb.append('\t'); 'r' -> sb.append('\r')
                            'b' -> sb.append('\b'); 'f' -> sb.append('\u000c')
                            '"', '\\', '/' -> sb.append(e)
                            'u' -> {
                                if (pos + 4 > s.length) fail("Invalid \\uXXXX escape")
                                val h = s.substring(pos, pos + 4).toIntOrNull(16) ?: fail("Invalid \\uXXXX escape")
                                sb.append(h.toChar()); pos += 4
                            }
                            else -> fail("Invalid \\escape")
                        }
                    }
                    c < ' ' -> fail("Invalid control character at")
                    else -> sb.append(c)
                }
            }
        }

        fun num(): Any {
            val start = pos
            if (s[pos] == '-') {
                pos++
                if (s.startsWith("Infinity", pos)) { pos += 8; return Double.NEGATIVE_INFINITY }
            }
            var isFloat = false
            while (pos < s.length && (s[pos].isDigit() || s[pos] in ".eE+-")) {
                if (s[pos] in ".eE") isFloat = true
                pos++
            }
            val t = s.substring(start, pos)
            return if (isFloat) t.toDoubleOrNull() ?: fail("Expecting value")
                   else t.toLongOrNull() ?: t.toBigInteger().toDouble()
        }
    }
}
