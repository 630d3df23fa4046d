"""Phases of a process's time (core/profiling.py): nested phases add up to the wall time."""

import time

from preemergence.core import profiling


def test_an_inner_phase_is_taken_out_of_the_outer_one():
    profiling.reset()
    with profiling.phase("outer"):
        time.sleep(0.05)
        with profiling.phase("inner"):
            time.sleep(0.1)
    phases = profiling.snapshot()["phases"]
    assert 0.09 < phases["inner"] < 0.5
    assert 0.04 < phases["outer"] < 0.09       # its own 0.05 s, not the inner 0.1 s


def test_a_traced_call_books_its_tracing_apart_from_the_work():
    import tensorflow as tf
    profiling.reset()
    double = tf.function(lambda x: (2 * x,), input_signature=[tf.TensorSpec((None,))])
    for _ in range(3):
        (out,) = profiling.traced_call(double, "work", tf.ones(4))
    assert out.tolist() == [2.0] * 4
    counts = profiling.snapshot()["counts"]
    assert counts == {"graph tracing": 1, "work": 2}
