"""Run the pipeline's training on a SLURM or PBS cluster through dask-jobqueue.

Start it on a login node, inside the repository, on a filesystem the compute nodes share:

    .venv/bin/python docs/examples/dask_cluster.py --system slurm --jobs 8 \
        --queue gpu --account myproject -- dvc exp run -S train.config=paper

It starts a Dask scheduler here, asks the batch system for --jobs jobs of one Dask worker
each (--runs-per-job training runs at a time per job, e.g. several per GPU), runs the
command with DASK_SCHEDULER_ADDRESS pointing at the scheduler (so every training run of
every stage becomes a task on the cluster), and releases the jobs when it ends. Only this
process writes MLflow and DVC files; the workers write the run store (models/runs/).
Adapt `cluster()` to your site (module loads, partition names, memory).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cluster(system: str = "slurm", queue: str | None = None, account: str | None = None,
            walltime: str = "04:00:00", runs_per_job: int = 4, gpus_per_job: int = 1,
            cores: int = 8, memory: str = "64GB"):
    """A dask-jobqueue cluster whose workers run inside this repository's environment."""
    from dask_jobqueue import PBSCluster, SLURMCluster
    prologue = [f"cd {REPO}", "source .venv/bin/activate",
                f"export PREEMERGENCE_RUN_STORE={REPO / 'models' / 'runs'}"]
    common = dict(cores=cores, processes=1, memory=memory, walltime=walltime, queue=queue,
                  account=account, job_script_prologue=prologue, job_name="preemergence",
                  # one worker thread per concurrent training run (each in its own process)
                  worker_extra_args=["--nthreads", str(runs_per_job)],
                  log_directory=str(REPO / "build" / "dask-logs"))
    if system == "slurm":
        gres = [f"--gres=gpu:{gpus_per_job}"] if gpus_per_job else []
        return SLURMCluster(job_extra_directives=gres, **common)
    if system == "pbs":
        gpus = [f"-l ngpus={gpus_per_job}"] if gpus_per_job else []
        return PBSCluster(job_extra_directives=gpus, **common)
    raise ValueError(f"--system {system}: expected slurm or pbs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", default="slurm", choices=("slurm", "pbs"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--runs-per-job", type=int, default=4)
    parser.add_argument("--gpus-per-job", type=int, default=1)
    parser.add_argument("--queue")
    parser.add_argument("--account")
    parser.add_argument("--walltime", default="04:00:00")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["dvc", "repro"]
    with cluster(args.system, args.queue, args.account, args.walltime, args.runs_per_job,
                 args.gpus_per_job) as jobs:
        jobs.scale(jobs=args.jobs)
        env = {**os.environ, "DASK_SCHEDULER_ADDRESS": jobs.scheduler_address}
        return subprocess.run(command, cwd=REPO, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
