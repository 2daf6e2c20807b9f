package ai.lrdif.core

import java.util.zip.CRC32
import java.util.zip.Inflater

/**
 * Reads a zip appended to another file (the .tflite metadata layout). Offsets inside the zip are
 * relative to its own start, so the prefix = EOCD offset - directory size - directory offset
 * (what Python's zipfile does). Only stored and deflated members, no zip64 (metadata is tiny).
 */
internal class AppendedZip private constructor(private val data: ByteArray, private val entries: Map<String, Entry>) {
    class ZipException(message: String) : RuntimeException(message)

    private class Entry(val method: Int, val crc: Long, val compSize: Int, val size: Int, val headerOffset: Int)

    val names: Set<String> get() = entries.keys

    /** The first byte of the zip (= the length of the file it is appended to). */
    val start: Int get() = entries.values.minOfOrNull { it.headerOffset } ?: data.size

    fun read(name: String): ByteArray {
        val e = entries[name] ?: throw ZipException("There is no item named '$name' in the archive")
        val h = e.headerOffset
        if (h < 0 || h + 30 > data.size || u32(data, h) != 0x04034b50L) throw ZipException("Bad magic number for file header")
        val n = u16(data, h + 26)
        val m = u16(data, h + 28)
        if (h + 30 + n > data.size) throw ZipException("Bad magic number for file header")
        val headerName = String(data, h + 30, n, Charsets.UTF_8)
        if (headerName != name) throw ZipException("File name in directory '$name' and header '$headerName' differ.")
        val s = h + 30 + n + m
        if (s + e.compSize > data.size) throw ZipException("truncated member '$name'")
        val out = when (e.method) {
            0 -> data.copyOfRange(s, s + e.compSize)
            8 -> inflate(s, e)
            else -> throw ZipException("compression type ${e.method} not supported")
        }
        val crc = CRC32().apply { update(out) }.value
        if (out.size != e.size || crc != e.crc) throw ZipException("Bad CRC-32 for file '$name'")
        return out
    }

    private fun inflate(s: Int, e: Entry): ByteArray {
        val inf = Inflater(true)
        try {
            inf.setInput(data, s, e.compSize)
            val out = ByteArray(e.size)
            var n = 0
            while (n < e.size) {
                val k = inf.inflate(out, n, e.size - n)
                if (k == 0 && (inf.finished() || inf.needsInput())) break
                n += k
            }
            if (n != e.size) throw ZipException("Bad CRC-32 for file (short inflate)")
            return out
        } catch (x: java.util.zip.DataFormatException) {
            throw ZipException("Error -3 while decompressing data: ${x.message}")
        } finally {
            inf.end()
        }
    }

    companion object {
        fun u16(b: ByteArray, i: Int): Int = (b[i].toInt() and 0xFF) or ((b[i + 1].toInt() and 0xFF) shl 8)
        fun u32(b: ByteArray, i: Int): Long = (u16(b, i).toLong()) or (u16(b, i + 2).toLong() shl 16)

        /**
         * Offset of the last end-of-central-directory signature in the final 64 KiB + 22 bytes, or -1
         * when there is none or it is cut short (Python's zipfile: rfind, then BadZipFile).
         */
        fun findEocd(data: ByteArray): Int {
            val lowest = maxOf(0, data.size - 22 - 65535)
            var i = data.size - 4
            while (i >= lowest) {
                if (data[i] == 0x50.toByte() && u32(data, i) == 0x06054b50L) return if (i + 22 <= data.size) i else -1
                i--
            }
            return -1
        }

        /** The appended zip, or null when there is none (Python: BadZipFile -> None). */
        fun open(data: ByteArray): AppendedZip? {
            val eocd = findEocd(data)
            if (eocd < 0) return null
            val count = u16(data, eocd + 10)
            val cdSize = u32(data, eocd + 12)
            val cdOffset = u32(data, eocd + 16)
            val prefix = eocd - cdSize - cdOffset
            if (prefix < 0) throw ZipException("Bad offset for central directory")
            var p = (prefix + cdOffset).toInt()
            val entries = LinkedHashMap<String, Entry>()
            repeat(count) {
                if (p + 46 > eocd || u32(data, p) != 0x02014b50L) throw ZipException("Bad magic number for central directory")
                val n = u16(data, p + 28)
                val m = u16(data, p + 30)
                val k = u16(data, p + 32)
                val name = String(data, p + 46, n, Charsets.UTF_8)
                entries[name] = Entry(u16(data, p + 10), u32(data, p + 16), u32(data, p + 20).toInt(),
                    u32(data, p + 24).toInt(), (u32(data, p + 42) + prefix).toInt())
                p += 46 + n + m + k
            }
            return AppendedZip(data, entries)
        }

        /** True when a local file header for [name] is present (used to tell a truncated zip from none). */
        fun hasLocalHeader(data: ByteArray, name: String): Boolean {
            val nb = name.toByteArray(Charsets.UTF_8)
            var i = 0
            while (i + 30 + nb.size <= data.size) {
                if (data[i] == 0x50.toByte() && u32(data, i) == 0x04034b50L && u16(data, i + 26) == nb.size &&
                    (nb.indices).all { data[i + 30 + it] == nb[it] }) return true
                i++
            }
            return false
        }
    }
}
