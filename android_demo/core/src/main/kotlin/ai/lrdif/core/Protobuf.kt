package ai.lrdif.core

/** Protobuf wire-format walk (port of the SDK's `_varint` / `_fields`): no generated code, no copies. */
internal object Protobuf {
    class WireException(message: String) : RuntimeException(message)

    /** One field: number, wire type, varint value (wt 0) or [start, end) of a length-delimited value (wt 2). */
    data class Field(val num: Int, val wireType: Int, val value: Long, val start: Int, val end: Int)

    private fun varint(buf: ByteArray, pos0: Int, end: Int): Pair<Long, Int> {
        var pos = pos0
        var result = 0L
        var shift = 0
        while (true) {
            if (pos >= end) throw WireException("truncated varint")
            val b = buf[pos].toInt() and 0xFF
            pos++
            result = result or ((b and 0x7F).toLong() shl shift)
            if (b and 0x80 == 0) return result to pos
            shift += 7
            if (shift > 63) throw WireException("varint too long")
        }
    }

    fun fields(buf: ByteArray, start: Int = 0, end: Int = buf.size): List<Field> {
        val out = ArrayList<Field>()
        var pos = start
        while (pos < end) {
            val (key, p1) = varint(buf, pos, end)
            pos = p1
            val num = (key ushr 3).toInt()
            val wt = (key and 7).toInt()
            if (num == 0) throw WireException("field number 0")
            var value = 0L
            var s = 0
            var e = 0
            when (wt) {
                0 -> { val (v, p) = varint(buf, pos, end); value = v; pos = p }
                1 -> pos += 8
                5 -> pos += 4
                2 -> {
                    val (n, p) = varint(buf, pos, end)
                    if (n < 0 || n > end - p) throw WireException("truncated message")
                    s = p; e = p + n.toInt(); pos = e
                }
                else -> throw WireException("unsupported wire type $wt")
            }
            if (pos > end) throw WireException("truncated message")
            out.add(Field(num, wt, value, s, e))
        }
        return out
    }

    /** Entries {key = 1, value = 2} of the repeated field [num] (ONNX StringStringEntryProto). */
    fun stringMap(buf: ByteArray, start: Int, end: Int, num: Int): Map<String, String> {
        val out = LinkedHashMap<String, String>()
        for (f in fields(buf, start, end)) {
            if (f.num != num || f.wireType != 2) continue
            var k = ""
            var v = ""
            for (g in fields(buf, f.start, f.end)) {
                if (g.wireType != 2 || (g.num != 1 && g.num != 2)) continue
                val text = String(buf, g.start, g.end - g.start, Charsets.UTF_8)
                if (g.num == 1) k = text else v = text
            }
            out[k] = v
        }
        return out
    }
}
