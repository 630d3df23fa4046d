"""Benchmark: where the CNN's training time goes, and whether cheaper convolutions help.

Follows up benchmarks/bench_training.py, which finds the training step compute-bound: our
pipeline trains as fast as a plain keras.Model.fit under the same TensorFlow configuration.
This script times, for every convolution of the depth-5 network (batch 32, the shapes of
training), in compiled graphs (tf.function), median of REPEATS calls after warm-up:

  direct       tf.nn.conv2d + 2x2 'same' max-pooling, TensorFlow's kernels (oneDNN when on):
               forward alone, each gradient kernel alone (input: Conv2DBackpropInput;
               weights: Conv2DBackpropFilter), and forward + both gradients.
  winograd     Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016), written in
               TensorFlow ops: input tiles 4x4 with stride 2, 16 batched matrix products
               (2.25x fewer multiplications than a direct 3x3 convolution), the 2x2 output
               tile of each product reduced by the following 2x2 max-pooling directly (the
               tiles and the pooling windows coincide, so no output interleave is needed).
               Checked against the direct path (values and gradients) before timing.
  xla          both of the above with jit_compile=True (XLA fuses the transforms).

Layer 1 (one input channel; a plain Keras convolution now, like the others) is not a
Winograd candidate; its direct cost is listed for completeness. gemm_gflops comes from the
sibling bench_training.py (the script's folder is on sys.path when run as below).
Writes conv_kernels.{json,md} to --out (default reports/benchmarks).
Usage: python benchmarks/bench_conv_kernels.py [--repeats 30] [--out DIR]
"""

import preemergence  # noqa: F401  first: the package sets TensorFlow's defaults (oneDNN on)

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from bench_training import gemm_gflops
from preemergence.core import hardware
from preemergence.core.artifacts import atomic_write_text, write_json
from preemergence.model import cnn

ROOT = Path(__file__).resolve().parents[1]

BATCH, WARMUP = 32, 3

# F(2x2, 3x3) transforms: Y = A^T [(G g G^T) * (B^T d B)] A
WINO_G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]])


def _bt(d0, d1, d2, d3):
    """Rows of B^T d for F(2, 3): d0 - d2, d1 + d2, d2 - d1, d1 - d3."""
    return [d0 - d2, d1 + d2, d2 - d1, d1 - d3]


def winograd_input(x, tiles: int):
    """(B, H, W, C) -> (16, B*tiles*tiles, C): transformed 4x4 input tiles, stride 2.

    Zero 'same' padding of 1 before, and after up to 2*tiles + 2 px; the 4x4 tile t spans
    the 2x2 blocks t and t+1 of the padded map, so a reshape to blocks replaces the
    (slow) stride-2 slicing.
    """
    b, h, _, c = x.shape
    after = 2 * tiles + 1 - h
    blocks = tf.reshape(tf.pad(x, [[0, 0], [1, after], [1, after], [0, 0]]),
                        [b, tiles + 1, 2, tiles + 1, 2, c])
    rows = _bt(blocks[:, :-1, 0], blocks[:, :-1, 1], blocks[:, 1:, 0], blocks[:, 1:, 1])
    out = []
    for r in rows:
        out += _bt(r[:, :, :-1, 0], r[:, :, :-1, 1], r[:, :, 1:, 0], r[:, :, 1:, 1])
    return tf.reshape(tf.stack(out, 0), [16, -1, c])


def winograd_kernel(kernel):
    """(3, 3, C, D) -> (16, C, D): G g G^T for every (input, output) channel pair."""
    g = tf.constant(WINO_G, kernel.dtype)
    u = tf.einsum("ai,ijcd,bj->abcd", g, kernel, g)
    return tf.reshape(u, [16, kernel.shape[2], kernel.shape[3]])


def winograd_output_pooled(m, batch: int, tiles: int, size: int):
    """(16, B*tiles*tiles, D) -> max of each 2x2 output tile, (B, tiles, tiles, D).

    Equals 2x2 'same' max-pooling of the convolution; for odd ``size`` the last tile's
    second row/column lies outside the map and is left out of the maximum.
    """
    m = tf.reshape(m, [4, 4, batch, tiles, tiles, m.shape[-1]])
    rows = (m[0] + m[1] + m[2], m[1] - m[2] - m[3])            # A^T along tile rows
    (y00, y01), (y10, y11) = [(r[0] + r[1] + r[2], r[1] - r[2] - r[3]) for r in rows]
    if size % 2:
        def last_row_from(a, ref):
            return tf.concat([a[:, :-1], ref[:, -1:]], 1)

        def last_col_from(a, ref):
            return tf.concat([a[:, :, :-1], ref[:, :, -1:]], 2)
        y10, y11 = last_row_from(y10, y00), last_row_from(y11, y01)
        y01, y11 = last_col_from(y01, y00), last_col_from(y11, y10)
    return tf.maximum(tf.maximum(y00, y01), tf.maximum(y10, y11))


def winograd_conv_pool(x, kernel):
    """max_pool_2x2_same(conv3x3_same(x, kernel)) by Winograd F(2x2, 3x3)."""
    b, h, _, _ = x.shape
    tiles = (h + 1) // 2
    m = tf.matmul(winograd_input(x, tiles), winograd_kernel(kernel))
    return winograd_output_pooled(m, b, tiles, h)


def direct_conv_pool(x, kernel):
    return tf.nn.max_pool2d(tf.nn.conv2d(x, kernel, 1, "SAME"), 2, 2, "SAME")


def with_gradients(forward):
    """x, kernel -> gradients of sum(forward(x, kernel)**2) w.r.t. both."""
    def run(x, kernel):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            loss = tf.reduce_sum(forward(x, kernel) ** 2)
        return tape.gradient(loss, [x, kernel])
    return run


def time_ms(fn, *args, repeats: int, jit: bool = False) -> float:
    """Median wall time of one call of the compiled ``fn`` (ms)."""
    fn = tf.function(fn, jit_compile=jit)
    for _ in range(WARMUP):
        tf.nest.map_structure(np.asarray, fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(np.asarray, fn(*args))
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def check_winograd(x, kernel) -> float:
    """Largest relative difference, Winograd vs direct, over values and both gradients.

    Checked in float64: in float32 the two paths' rounding can flip the arg-max of a
    pooling window whose values agree to ~1e-7, which moves a gradient element.
    """
    x, kernel = tf.cast(x, tf.float64), tf.cast(kernel, tf.float64)
    pairs = [(winograd_conv_pool(x, kernel), direct_conv_pool(x, kernel))]
    pairs += zip(with_gradients(winograd_conv_pool)(x, kernel),
                 with_gradients(direct_conv_pool)(x, kernel))
    rel = max(float(tf.reduce_max(tf.abs(a - b)) / tf.reduce_max(tf.abs(b))) for a, b in pairs)
    if rel > 1e-9:
        raise AssertionError(f"Winograd F(2x2,3x3) differs from the direct path: {rel:.2e}")
    return rel


def layer_shapes(depth: int = 5):
    """(input size, input channels, output channels) of every convolution."""
    model = cnn.build_model(depth)
    return [(layer.input.shape[1], layer.input.shape[-1], layer.kernel.shape[-1])
            for layer in cnn.conv_layers(model)]


def measure_layer(size, c_in, c_out, repeats, rng) -> dict:
    x = tf.constant(rng.standard_normal((BATCH, size, size, c_in)).astype(np.float32))
    k = tf.constant((0.1 * rng.standard_normal((3, 3, c_in, c_out))).astype(np.float32))
    dy = tf.constant(rng.standard_normal((BATCH, size, size, c_out)).astype(np.float32))
    shape = [1, 1, 1, 1]
    row = {"input": [size, size, c_in], "filters": c_out,
           "direct_gflop_fwd": round(2 * BATCH * size * size * 9 * c_in * c_out / 1e9, 3),
           "direct_fwd_ms": time_ms(direct_conv_pool, x, k, repeats=repeats),
           "grad_input_ms": time_ms(lambda dy, k: tf.raw_ops.Conv2DBackpropInput(
               input_sizes=tf.shape(x), filter=k, out_backprop=dy, strides=shape,
               padding="SAME"), dy, k, repeats=repeats),
           "grad_weights_ms": time_ms(lambda x, dy: tf.raw_ops.Conv2DBackpropFilter(
               input=x, filter_sizes=tf.shape(k), out_backprop=dy, strides=shape,
               padding="SAME"), x, dy, repeats=repeats),
           "direct_train_ms": time_ms(with_gradients(direct_conv_pool), x, k, repeats=repeats),
           "direct_train_xla_ms": time_ms(with_gradients(direct_conv_pool), x, k,
                                          repeats=repeats, jit=True)}
    if c_in > 1:
        row["winograd_max_rel_diff"] = check_winograd(x, k)
        row["winograd_fwd_ms"] = time_ms(winograd_conv_pool, x, k, repeats=repeats)
        row["winograd_train_ms"] = time_ms(with_gradients(winograd_conv_pool), x, k,
                                           repeats=repeats)
        row["winograd_train_xla_ms"] = time_ms(with_gradients(winograd_conv_pool), x, k,
                                               repeats=repeats, jit=True)
    return {key: round(v, 2) if isinstance(v, float) and not key.endswith("diff") else v
            for key, v in row.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "benchmarks",
                        help="folder for conv_kernels.{json,md}")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    layers = [measure_layer(*shape, args.repeats, rng) for shape in layer_shapes()]
    result = {"cpu": hardware.cpu_name(), "cpus": os.cpu_count(),
              "onednn": hardware.onednn_enabled(),
              "tensorflow": tf.__version__, "python": platform.python_version(),
              "batch": BATCH, "repeats": args.repeats,
              "gemm_gflops_best": round(gemm_gflops(), 1), "layers": layers}
    write_json(args.out / "conv_kernels.json", result)
    atomic_write_text(args.out / "conv_kernels.md", markdown(result))
    print(markdown(result))


def markdown(r) -> str:
    cols = [("direct_fwd_ms", "fwd"), ("grad_input_ms", "dX"), ("grad_weights_ms", "dW"),
            ("direct_train_ms", "fwd+dX+dW"), ("direct_train_xla_ms", "fwd+dX+dW XLA"),
            ("winograd_fwd_ms", "Winograd fwd"), ("winograd_train_ms", "Winograd fwd+grads"),
            ("winograd_train_xla_ms", "Winograd fwd+grads XLA")]
    lines = ["# Benchmark: convolution kernels of the training step", "",
             f"Machine: {r['cpu']}, {r['cpus']} CPUs; TensorFlow {r['tensorflow']} "
             f"(oneDNN {'on' if r['onednn'] else 'off'}), Python {r['python']}. Best float32 "
             f"matrix product: {r['gemm_gflops_best']} GFLOP/s.", "",
             "Method: `python benchmarks/bench_conv_kernels.py` (see its docstring). Every "
             "convolution of the depth-5 CNN at batch "
             f"{r['batch']}, followed by its 2x2 max-pooling; compiled graphs; median of "
             f"{r['repeats']} calls, in ms per batch. fwd+dX+dW = forward and both "
             "gradients of a loss on the pooled output (dX is computed for layer 1 too "
             "here, though training does not need it). The Winograd F(2x2, 3x3) path is "
             "checked against the direct one (values and gradients, float64) before it is timed.",
             "", "| input | filters | GFLOP fwd | " + " | ".join(c[1] for c in cols) + " |",
             "|---|---:|---:|" + "---:|" * len(cols)]
    for layer in r["layers"]:
        h, _, c = layer["input"]
        cells = [str(layer.get(key, "–")) for key, _ in cols]
        lines.append(f"| {h}x{h}x{c} | {layer['filters']} | {layer['direct_gflop_fwd']} | "
                     + " | ".join(cells) + " |")
    lines += ["", *_md_reading(r), ""]
    return "\n".join(lines)


def _md_reading(r) -> list[str]:
    layers = r["layers"]
    wino = [layer for layer in layers if "winograd_train_ms" in layer]

    def best(layer, prefix):   # the faster of graph mode and XLA, for either path
        return min(layer[f"{prefix}_train_ms"], layer[f"{prefix}_train_xla_ms"])
    direct_same = sum(best(layer, "direct") for layer in wino)
    best_wino = sum(best(layer, "winograd") for layer in wino)
    faster = [f"{layer['input'][0]}x{layer['input'][0]}" for layer in wino
              if best(layer, "winograd") < best(layer, "direct")]
    direct = sum(layer["direct_train_ms"] for layer in layers) - layers[0]["grad_input_ms"]
    fwd_rate = max(layer["direct_gflop_fwd"] / layer["direct_fwd_ms"] * 1e3 for layer in layers)
    speedup = direct_same / best_wino
    return ["## Reading", "",
            f"* The direct forward convolutions run at up to {fwd_rate:.0f} GFLOP/s, "
            f"{100 * fwd_rate / r['gemm_gflops_best']:.0f}% of the best matrix product.",
            f"* Layers 2-5, forward and gradients, each path at its best (graph or XLA): "
            f"direct {direct_same:.1f} ms per batch, Winograd {best_wino:.1f} ms "
            f"(Winograd {speedup:.2f}x as fast); Winograd is faster on "
            f"{', '.join(faster) or 'no layer'}.",
            f"* All five layers, direct, forward and the gradients training needs (no input "
            f"gradient for layer 1): {direct:.1f} ms per batch of {r['batch']} as separate "
            f"calls, i.e. {1e3 * r['batch'] / direct:.0f} samples/s. Each call adds dispatch "
            "and a copy back to the host, so this is an upper bound on the convolutions' "
            "share of a training step, of the same order as the whole step measured in "
            "`training_throughput.md`."]


if __name__ == "__main__":
    main()
