"""The victim of the fault-injection test: children that write checkpoints until SIGKILL.

Usage: ``python checkpoint_writer.py FOLDER ROUNDS SEED``. The process imports torch once
and then, for each round, forks a child that writes checkpoints in a loop, lets it run for
a random moment after its first commit and kills it with SIGKILL; it prints ``killed`` and
waits for a line on stdin (the test checks the folder meanwhile) before the next round.
Forking saves a torch import per kill; the parent runs no torch operation, so the child
starts with no thread pool to inherit.

Every iteration fills all parameters of a 4 MB model with the iteration number and commits
weights and state together with :func:`biocl.train.checkpoint.commit_checkpoint`, so a
reader can tell whether the weights it loads belong to the state it loads. Each child
continues after the last committed iteration, as a resumed run does.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import torch
from torch import nn

from biocl.train.checkpoint import commit_checkpoint, recover_checkpoint

STATE = "last.state.pt"
WEIGHTS = "last.safetensors"


def write_forever(folder: Path, first_commit_fd: int) -> None:
    """Commit checkpoints in a loop; write one byte to ``first_commit_fd`` after the first."""
    torch.set_num_threads(1)
    previous = recover_checkpoint(folder, STATE)
    iteration = 0 if previous is None else int(previous["iteration"]) + 1
    model = nn.Sequential(nn.Linear(1000, 1000), nn.Linear(1000, 10))
    while True:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(float(iteration))
        commit_checkpoint(folder, STATE, {"iteration": iteration}, {WEIGHTS: model})
        if first_commit_fd >= 0:
            os.write(first_commit_fd, b"x")
            os.close(first_commit_fd)
            first_commit_fd = -1
        iteration += 1


def main(folder: Path, rounds: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    delays = random.Random(seed)
    for _ in range(rounds):
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(read_end)
            try:
                write_forever(folder, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        committed = os.read(read_end, 1)
        os.close(read_end)
        if committed:
            time.sleep(delays.uniform(0.0, 0.3))
        os.kill(child, signal.SIGKILL)
        _, status = os.waitpid(child, 0)
        print("killed" if os.WIFSIGNALED(status) else f"child exited with {status}", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
