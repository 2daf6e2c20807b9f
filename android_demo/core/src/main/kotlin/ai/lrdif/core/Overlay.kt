package ai.lrdif.core

/** How the preview fills its view (CameraX PreviewView FILL_CENTER / FIT_CENTER). */
enum class ScaleMode { FILL, FIT }

/**
 * Pure geometry between the camera buffer, the upright frame the pipeline sees and the overlay view.
 * Coordinates are continuous (pixel i spans [i, i+1)), like the SDK's.
 */
object Overlay {
    /** Size of the buffer once rotated by [rotationDegrees] (CameraX ImageInfo.rotationDegrees, clockwise). */
    fun uprightSize(bufferWidth: Int, bufferHeight: Int, rotationDegrees: Int): Pair<Int, Int> =
        if (normRotation(rotationDegrees) % 180 == 0) bufferWidth to bufferHeight else bufferHeight to bufferWidth

    fun normRotation(deg: Int): Int {
        val r = ((deg % 360) + 360) % 360
        if (r % 90 != 0) throw IllegalArgumentException("rotation must be a multiple of 90 degrees, got $deg")
        return r
    }

    /** Buffer px -> upright px for a clockwise rotation of 0, 90, 180 or 270 degrees. */
    fun bufferToUpright(bufferWidth: Int, bufferHeight: Int, rotationDegrees: Int): Affine {
        val w = bufferWidth.toDouble()
        val h = bufferHeight.toDouble()
        return when (normRotation(rotationDegrees)) {
            0 -> Affine(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
            90 -> Affine(0.0, -1.0, h, 1.0, 0.0, 0.0)
            180 -> Affine(-1.0, 0.0, w, 0.0, -1.0, h)
            else -> Affine(0.0, 1.0, 0.0, -1.0, 0.0, w)
        }
    }

    /**
     * Upright frame px -> view px: centred scale (FILL crops, FIT letterboxes), then a horizontal
     * mirror when [mirror] (front camera: PreviewView shows a mirror image).
     */
    fun frameToView(frameWidth: Int, frameHeight: Int, viewWidth: Int, viewHeight: Int,
                    mode: ScaleMode, mirror: Boolean): Affine {
        if (frameWidth < 1 || frameHeight < 1)
            throw InvalidFrameException("frame is empty (${frameWidth}x$frameHeight); expected a non-empty image")
        val sx = viewWidth.toDouble() / frameWidth
        val sy = viewHeight.toDouble() / frameHeight
        val s = if (mode == ScaleMode.FILL) maxOf(sx, sy) else minOf(sx, sy)
        val ox = (viewWidth - frameWidth * s) / 2
        val oy = (viewHeight - frameHeight * s) / 2
        val m = Affine(s, 0.0, ox, 0.0, s, oy)
        return if (mirror) Affine(-1.0, 0.0, viewWidth.toDouble(), 0.0, 1.0, 0.0).compose(m) else m
    }

    /** A box x, y, w, h mapped through [m] (axis-aligned m: rotations by 90 degrees and mirrors) -> left, top, right, bottom. */
    fun mapBox(box: FloatArray, m: Affine): FloatArray {
        val x0 = box[0].toDouble(); val y0 = box[1].toDouble()
        val x1 = x0 + box[2]; val y1 = y0 + box[3]
        val xs = doubleArrayOf(m.mapX(x0, y0), m.mapX(x1, y1))
        val ys = doubleArrayOf(m.mapY(x0, y0), m.mapY(x1, y1))
        return floatArrayOf(xs.min().toFloat(), ys.min().toFloat(), xs.max().toFloat(), ys.max().toFloat())
    }
}

/** Whole-image operations the app needs before the pipeline (pure, testable). */
object ImageOps {
    /** Rotate clockwise by 0/90/180/270 degrees (what [Overlay.bufferToUpright] maps coordinates by). */
    fun rotate(img: RgbImage, rotationDegrees: Int): RgbImage {
        val r = Overlay.normRotation(rotationDegrees)
        if (r == 0) return img
        val w = img.width
        val h = img.height
        val (ow, oh) = Overlay.uprightSize(w, h, r)
        val out = RgbImage.empty(ow, oh)
        for (y in 0 until h) for (x in 0 until w) {
            val (nx, ny) = when (r) {
                90 -> (h - 1 - y) to x
                180 -> (w - 1 - x) to (h - 1 - y)
                else -> y to (w - 1 - x)
            }
            System.arraycopy(img.data, (y * w + x) * 3, out.data, (ny * ow + nx) * 3, 3)
        }
        return out
    }
}
