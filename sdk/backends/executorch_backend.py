"""ExecuTorch runner via executorch.runtime (Python bindings link torch's libraries, so this backend
imports torch lazily; on phones use the C++/Kotlin/Swift runtime). Metadata: the artifact's sidecar
read by lrdif.sdk.artifact_metadata. ExecuTorch programs have no IO names: inputs and outputs are
matched in metadata order and checked by shape."""
from __future__ import annotations

import numpy as np

from lrdif.sdk.backends.base import Backend, ModelLoadError, dim, load_artifact_metadata, validate_io
from lrdif.sdk.metadata import ModelMetadata


class ExecuTorchBackend(Backend):
    name = "executorch"
    target = "executorch"

    def _load(self, model: "str | bytes") -> ModelMetadata:
        try:
            import torch  # noqa: F401  (the runtime's bindings need torch's shared libraries)
            from executorch.runtime import Runtime
        except ImportError as e:
            raise ModelLoadError(f"{self.source}: the ExecuTorch backend needs the `executorch` and "
                                 f"`torch` packages (pip install 'lrdif[export]'): {e}") from None
        meta = load_artifact_metadata(model, self.source)
        try:
            program = Runtime.get().load_program(model)
            names = program.method_names
            if "forward" not in names:
                raise RuntimeError(f"no 'forward' method (methods: {sorted(names)})")
            mm = program.metadata("forward")
            self._method = program.load_method("forward")
        except Exception as e:
            raise ModelLoadError(f"{self.source}: cannot be loaded by ExecuTorch (corrupt, truncated "
                                 f"or not a .pte program): {str(e).strip().splitlines()[0][:300]}") from None
        self._program = program
        ins = [(f"input_{i}", tuple(dim(d) for d in mm.input_tensor_meta(i).sizes()))
               for i in range(mm.num_inputs())]
        outs = [(f"output_{i}", tuple(dim(d) for d in mm.output_tensor_meta(i).sizes()))
                for i in range(mm.num_outputs())]
        validate_io(meta, self.source, ins, outs, positional=True)
        return meta

    def _run_batch(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        out = self._method.execute([torch.from_numpy(image), torch.from_numpy(landmarks)])
        return out[0].numpy(), out[1].numpy()

    def _release(self) -> None:
        self._method = None
        self._program = None
