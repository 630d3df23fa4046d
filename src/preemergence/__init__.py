"""Open reproduction of Dhuri et al. (2020), pre-emergence magnetic-field patterns with a CNN.

Layout (each subpackage imports only those before it in this list):

* ``core``: constants, parameters, file names, the paper's reference values, atomic
  writing, MLflow tracking, progress bars, skill scores, shared figures, hardware.
* ``data``: the region store, geometry, segment sets, validation, the simulator.
* ``model``: the CNN, its input pipeline, training, the one predict path, runs (keyed,
  resumable), cross-validation, pruning, the discriminant analysis.
* ``interpret``: probes, synthetic bipoles, occlusion, composites, binning, figures, report.
* ``solar``: everything that touches sunpy/reproject: projection, real regions, quiet-Sun
  patches, the full-disk scan, the simulator's realism check.
* ``stages``: one module per ``dvc.yaml`` stage, named after it; stages never import stages.

TensorFlow's environment defaults are set here, once, before any submodule can import
TensorFlow: oneDNN CPU kernels as this machine's measured choice says, else on
(TensorFlow enables them by default only on CPUs with AVX512/AMX; a plain ``fit`` ran 2.9x
faster with them, see reports/benchmarks/training_throughput.md and core/compute.py) and
TensorFlow's C++ start-up chatter off. An explicit setting in the environment wins
(``TF_ENABLE_ONEDNN_OPTS=0`` turns oneDNN off).
"""

import os

from preemergence.core.compute import set_onednn_default

set_onednn_default()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
