package ai.lrdif.demo

import ai.lrdif.core.Overlay
import ai.lrdif.core.ScaleMode
import ai.lrdif.demo.databinding.ActivityMainBinding
import android.Manifest
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.Toast
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.core.content.ContextCompat

/** Camera (live, VIDEO mode) and gallery (still, IMAGE mode) screens over one core pipeline. */
class MainActivity : AppCompatActivity() {
    private lateinit var binding: ActivityMainBinding
    private lateinit var runner: PipelineRunner
    private lateinit var camera: CameraController
    var settings = DemoSettings()
        private set
    val emotionModelName: String get() = runner.modelName

    private val askCamera = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) camera.start() else Toast.makeText(this, R.string.no_camera_permission, Toast.LENGTH_LONG).show()
    }
    private val pickPhoto = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri ->
        if (uri != null) runStill(uri) else binding.mode.check(R.id.mode_camera)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        binding = ActivityMainBinding.inflate(layoutInflater)
        setContentView(binding.root)
        runner = PipelineRunner(applicationContext).also { it.configure(settings) }
        camera = CameraController(this, binding.preview, runner) { r, front -> runOnUiThread { showLive(r, front) } }
        binding.settings.setOnClickListener { SettingsSheet().show(supportFragmentManager, "settings") }
        binding.switchCamera.setOnClickListener { camera.switchLens() }
        binding.mode.addOnButtonCheckedListener { _, id, checked ->
            if (!checked) return@addOnButtonCheckedListener
            if (id == R.id.mode_gallery) openGallery() else showCamera()
        }
        showCamera()
    }

    fun applySettings(s: DemoSettings) {
        if (s == settings) return
        settings = s
        runner.configure(s)
    }

    private fun showCamera() {
        binding.still.visibility = View.GONE
        binding.preview.visibility = View.VISIBLE
        binding.switchCamera.isEnabled = true
        binding.overlay.clear()
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) camera.start()
        else askCamera.launch(Manifest.permission.CAMERA)
    }

    private fun openGallery() {
        camera.stop()
        binding.switchCamera.isEnabled = false
        pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
    }

    private fun runStill(uri: Uri) {
        binding.preview.visibility = View.INVISIBLE
        binding.still.visibility = View.VISIBLE
        binding.overlay.clear()
        runner.executor.execute {
            val result = try {
                val bitmap = Frames.decode(this, uri)
                runOnUiThread { binding.still.setImageBitmap(bitmap) }
                runner.run(Frames.fromBitmap(bitmap), video = false)
            } catch (e: RuntimeException) {
                FrameResult(1, 1, emptyList(), "", e.message)
            }
            runOnUiThread { show(result, ScaleMode.FIT, mirror = false) }
        }
    }

    private fun showLive(r: FrameResult, front: Boolean) {
        if (binding.preview.visibility == View.VISIBLE) show(r, ScaleMode.FILL, mirror = front)
    }

    /** The overlay uses the same scale rule as the view under it (PreviewView fillCenter / ImageView fitCenter). */
    private fun show(r: FrameResult, mode: ScaleMode, mirror: Boolean) {
        val o = binding.overlay
        o.show(r.results, Overlay.frameToView(r.width, r.height, o.width, o.height, mode, mirror))
        binding.timing.text = r.error ?: r.info
    }

    override fun onDestroy() {
        super.onDestroy()
        camera.stop()
        runner.shutdown()
    }
}
