"""One process of a data-parallel train(), as torchrun starts it (tests/test_distributed.py).

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_worker.py CONFIG_JSON
"""

import faulthandler
import json
import sys

from wordgen.config import TrainConfig
from wordgen.training.loop import train

if __name__ == "__main__":
    # A worker that hangs prints where it is and exits, so the test fails with a stack, not a timeout.
    faulthandler.dump_traceback_later(90, exit=True)
    train(TrainConfig.from_dict(json.loads(sys.argv[1])))
