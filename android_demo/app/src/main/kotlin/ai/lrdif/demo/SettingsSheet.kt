package ai.lrdif.demo

import ai.lrdif.demo.databinding.SettingsSheetBinding
import android.os.Bundle
import android.view.LayoutInflater
import android.view.View
import android.view.ViewGroup
import android.widget.RadioButton
import com.google.android.material.bottomsheet.BottomSheetDialogFragment

/** Threads, CPU/GPU delegate, smoothing, max faces and emotion model; changes go to MainActivity.applySettings. */
class SettingsSheet : BottomSheetDialogFragment() {
    private var _binding: SettingsSheetBinding? = null
    private val host get() = requireActivity() as MainActivity

    override fun onCreateView(inflater: LayoutInflater, container: ViewGroup?, state: Bundle?): View =
        SettingsSheetBinding.inflate(inflater, container, false).also { _binding = it }.root

    override fun onViewCreated(view: View, state: Bundle?) {
        val b = _binding ?: return
        val s = host.settings
        b.threads.value = s.threads.toFloat()
        b.smoothing.value = s.smoothing.toFloat()
        b.maxFaces.value = s.maxFaces.toFloat()
        b.delegate.check(if (s.delegate == Delegate.GPU) b.delegateGpu.id else b.delegateCpu.id)
        val models = ModelAssets.emotionModels(requireContext())
        for (name in models) b.models.addView(RadioButton(requireContext()).apply {
            text = name; id = View.generateViewId(); isChecked = name == host.emotionModelName
        })
        labels(b)
        b.threads.addOnChangeListener { _, v, _ -> labels(b); host.applySettings(host.settings.copy(threads = v.toInt())) }
        b.smoothing.addOnChangeListener { _, v, _ -> labels(b); host.applySettings(host.settings.copy(smoothing = v.toDouble())) }
        b.maxFaces.addOnChangeListener { _, v, _ -> labels(b); host.applySettings(host.settings.copy(maxFaces = v.toInt())) }
        b.delegate.setOnCheckedChangeListener { _, id ->
            host.applySettings(host.settings.copy(delegate = if (id == b.delegateGpu.id) Delegate.GPU else Delegate.CPU))
        }
        b.models.setOnCheckedChangeListener { g, id ->
            val name = g.findViewById<RadioButton>(id)?.text?.toString() ?: return@setOnCheckedChangeListener
            host.applySettings(host.settings.copy(emotionModel = name))
        }
    }

    private fun labels(b: SettingsSheetBinding) {
        b.threadsLabel.text = getString(R.string.threads, b.threads.value.toInt())
        b.smoothingLabel.text = getString(R.string.smoothing, b.smoothing.value)
        b.maxFacesLabel.text = getString(R.string.max_faces, b.maxFaces.value.toInt())
    }

    override fun onDestroyView() {
        super.onDestroyView()
        _binding = null
    }
}
