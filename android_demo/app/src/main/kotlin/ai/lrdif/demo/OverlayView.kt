package ai.lrdif.demo

import ai.lrdif.core.Affine
import ai.lrdif.core.EmotionResult
import ai.lrdif.core.Overlay
import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/** Boxes, label + confidence and one probability bar per class, drawn through the core's frame->view affine. */
class OverlayView(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    private var results: List<EmotionResult> = emptyList()
    private var toView: Affine? = null
    private val density = resources.displayMetrics.density
    private val box = Paint().apply { style = Paint.Style.STROKE; strokeWidth = 3 * density; color = Color.GREEN }
    private val text = Paint().apply { color = Color.WHITE; textSize = 14 * density; isAntiAlias = true }
    private val small = Paint().apply { color = Color.WHITE; textSize = 10 * density; isAntiAlias = true }
    private val bar = Paint().apply { color = Color.argb(200, 60, 200, 90) }
    private val back = Paint().apply { color = Color.argb(150, 0, 0, 0) }

    /** Show [results] of a frame; [frameToView] maps frame px to this view (Overlay.frameToView). */
    fun show(results: List<EmotionResult>, frameToView: Affine) {
        this.results = results
        this.toView = frameToView
        invalidate()
    }

    fun clear() = show(emptyList(), Affine(1.0, 0.0, 0.0, 0.0, 1.0, 0.0))

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val m = toView ?: return
        for (r in results) {
            val (l, t, rr, b) = Overlay.mapBox(r.face.box, m).toList()
            canvas.drawRect(l, t, rr, b, box)
            val id = r.faceId?.let { " #$it" } ?: ""
            canvas.drawText("${r.label} ${"%.2f".format(r.confidence)}$id", l, t - 6 * density, text)
            drawBars(canvas, r, l, b + 4 * density)
        }
    }

    private fun drawBars(canvas: Canvas, r: EmotionResult, x: Float, y: Float) {
        val rowH = 12 * density
        val labelW = 64 * density
        val barW = 80 * density
        canvas.drawRect(x, y, x + labelW + barW + 4 * density, y + rowH * r.labels.size, back)
        for ((i, label) in r.labels.withIndex()) {
            val top = y + i * rowH
            canvas.drawText(label, x + 2 * density, top + rowH - 3 * density, small)
            canvas.drawRect(x + labelW, top + 2 * density, x + labelW + barW * r.probabilities[i], top + rowH - 2 * density, bar)
        }
    }
}
