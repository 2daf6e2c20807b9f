package ai.lrdif.core

/** A 2x3 affine x' = a*x + b*y + c, y' = d*x + e*y + f (cv2's row-major 2x3 layout). */
data class Affine(val a: Double, val b: Double, val c: Double, val d: Double, val e: Double, val f: Double) {
    fun mapX(x: Double, y: Double) = a * x + b * y + c
    fun mapY(x: Double, y: Double) = d * x + e * y + f

    /** cv::invertAffineTransform (a singular matrix inverts to zeros, as in OpenCV). */
    fun inverse(): Affine {
        var det = a * e - b * d
        det = if (det != 0.0) 1.0 / det else 0.0
        val ia = e * det
        val ie = a * det
        val ib = -b * det
        val id = -d * det
        return Affine(ia, ib, -ia * c - ib * f, id, ie, -id * c - ie * f)
    }

    /** this after [first]: x -> this(first(x)). */
    fun compose(first: Affine) = Affine(
        a * first.a + b * first.d, a * first.b + b * first.e, a * first.c + b * first.f + c,
        d * first.a + e * first.d, d * first.b + e * first.e, d * first.c + e * first.f + f)

    fun toFloatArray() = floatArrayOf(a.toFloat(), b.toFloat(), c.toFloat(), d.toFloat(), e.toFloat(), f.toFloat())
}
