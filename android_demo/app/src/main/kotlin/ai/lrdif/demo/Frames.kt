package ai.lrdif.demo

import ai.lrdif.core.ImageOps
import ai.lrdif.core.RgbImage
import android.content.Context
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Build
import androidx.camera.core.ImageProxy

/** Camera and gallery pixels -> the core's upright RgbImage. */
object Frames {
    /** An RGBA_8888 ImageAnalysis frame, rotated upright by its rotationDegrees (not mirrored). */
    fun fromImageProxy(image: ImageProxy): RgbImage {
        val plane = image.planes[0]
        val buf = plane.buffer.apply { rewind() }
        val bytes = ByteArray(buf.remaining()).also { buf.get(it) }
        val rgb = RgbImage.fromRgba(bytes, image.width, image.height, plane.rowStride)
        return ImageOps.rotate(rgb, image.imageInfo.rotationDegrees)
    }

    fun fromBitmap(bitmap: Bitmap): RgbImage {
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val px = IntArray(argb.width * argb.height)
        argb.getPixels(px, 0, argb.width, 0, 0, argb.width, argb.height)
        return RgbImage.fromArgb(px, argb.width, argb.height)
    }

    /** A picked photo as a software ARGB bitmap (EXIF orientation applied on API 28+). */
    fun decode(context: Context, uri: Uri): Bitmap =
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
            ImageDecoder.decodeBitmap(ImageDecoder.createSource(context.contentResolver, uri)) { d, _, _ ->
                d.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            }
        } else {
            context.contentResolver.openInputStream(uri).use { BitmapFactory.decodeStream(it) }
                ?: throw IllegalArgumentException("cannot decode $uri")
        }
}
