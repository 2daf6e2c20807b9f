package ai.lrdif.core

/**
 * An H x W x 3 uint8 RGB image, row-major, no padding (the SDK's frame type). Camera RGBA buffers
 * and bitmaps are converted with [fromRgba] / [fromArgb].
 */
class RgbImage(val width: Int, val height: Int, val data: ByteArray) {
    init {
        if (width < 1 || height < 1)
            throw InvalidFrameException("frame is empty (${width}x$height); expected a non-empty image")
        if (data.size.toLong() != width.toLong() * height * 3)
            throw InvalidFrameException("frame buffer holds ${data.size} bytes, expected ${width}x${height}x3 = ${width.toLong() * height * 3}")
    }

    /** Channel [c] of pixel ([x], [y]) as 0..255. */
    fun get(x: Int, y: Int, c: Int): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF

    companion object {
        fun empty(width: Int, height: Int): RgbImage {
            if (width < 1 || height < 1)
                throw InvalidFrameException("frame is empty (${width}x$height); expected a non-empty image")
            return RgbImage(width, height, ByteArray(width * height * 3))
        }

        /** RGBA_8888 bytes (CameraX ImageAnalysis OUTPUT_IMAGE_FORMAT_RGBA_8888), alpha dropped. */
        fun fromRgba(rgba: ByteArray, width: Int, height: Int, rowStride: Int = width * 4): RgbImage {
            if (width < 1 || height < 1)
                throw InvalidFrameException("frame is empty (${width}x$height); expected a non-empty image")
            if (rowStride < width * 4 || rgba.size < rowStride.toLong() * (height - 1) + width * 4)
                throw InvalidFrameException("RGBA buffer of ${rgba.size} bytes is too small for ${width}x$height (row stride $rowStride)")
            val out = ByteArray(width * height * 3)
            for (y in 0 until height) {
                var s = y * rowStride
                var d = y * width * 3
                for (x in 0 until width) {
                    out[d] = rgba[s]; out[d + 1] = rgba[s + 1]; out[d + 2] = rgba[s + 2]
                    s += 4; d += 3
                }
            }
            return RgbImage(width, height, out)
        }

        /** ARGB ints (android.graphics.Bitmap.getPixels), alpha dropped. */
        fun fromArgb(argb: IntArray, width: Int, height: Int): RgbImage {
            if (width < 1 || height < 1)
                throw InvalidFrameException("frame is empty (${width}x$height); expected a non-empty image")
            if (argb.size != width * height)
                throw InvalidFrameException("pixel array holds ${argb.size} pixels, expected ${width}x$height")
            val out = ByteArray(width * height * 3)
            for (i in argb.indices) {
                val p = argb[i]
                out[3 * i] = (p shr 16).toByte(); out[3 * i + 1] = (p shr 8).toByte(); out[3 * i + 2] = p.toByte()
            }
            return RgbImage(width, height, out)
        }
    }
}
