"""The CUDA path: training (cuDNN LSTM, bf16 autocast where the GPU has it), windows copied through
pinned memory, evaluation and the generation fast path on the GPU.

These run only where torch sees a CUDA GPU; `benchmarks/gpu_check.sh` runs them on a GPU
machine. On a machine without one (CI, the development machines) they are skipped.
"""

import math

import numpy as np
import pytest
import torch
from helpers import tiny_train_config

from wordgen.config import ModelConfig, SampleConfig
from wordgen.data import batchify, windows
from wordgen.evaluate import total_nll
from wordgen.generation.decode import generate, sample_ids
from wordgen.generation.stepper import LSTMStepper
from wordgen.model import LSTMLanguageModel
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (benchmarks/gpu_check.sh runs these on one)")
CUDA = torch.device("cuda")


def test_windows_reach_the_gpu_through_pinned_memory_unchanged():
    table = batchify(np.arange(1000, dtype=np.uint16), 4)
    on_gpu = list(windows(table, 16, device=CUDA))
    on_cpu = list(windows(table, 16))
    assert len(on_gpu) == len(on_cpu)
    for (pa, xa, ya), (pb, xb, yb) in zip(on_gpu, on_cpu):
        assert pa == pb and xa.is_cuda and torch.equal(xa.cpu(), xb) and torch.equal(ya.cpu(), yb)


# Enough learning rate for 20 tiny steps to move the validation loss clearly off ln(vocabulary),
# where an untrained model starts (its logits are all near 0).
LEARNS = dict(max_steps=20, lr=3e-2)


def test_training_on_the_gpu_writes_a_checkpoint_that_loads_anywhere(tmp_path, book):
    result = train(tiny_train_config(book, tmp_path / "gpu", device="cuda", precision="auto", **LEARNS))
    config = result.bundle.config
    assert next(result.bundle.model.parameters()).is_cuda
    assert config.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    assert torch.backends.cudnn.enabled and torch.backends.cudnn.is_available()  # nn.LSTM runs on cuDNN
    # It learns as the same run on the CPU does: at least three quarters of the CPU's gain over an
    # untrained model (bf16 rounds the GPU's steps; a model that learned nothing gains nothing).
    on_the_cpu = train(tiny_train_config(book, tmp_path / "cpu", device="cpu", precision="fp32", **LEARNS))
    untrained = math.log(result.bundle.tokenizer.vocab_size)
    cpu_gain = untrained - on_the_cpu.history[-1]["val_loss"]
    gpu_gain = untrained - result.history[-1]["val_loss"]
    assert cpu_gain > 0.1, cpu_gain  # the reference itself learned
    assert gpu_gain >= 0.75 * cpu_gain, (gpu_gain, cpu_gain)
    on_cpu = Bundle.load(tmp_path / "gpu", device="cpu")
    text = generate(on_cpu.model, on_cpu.tokenizer, "ROMEO:", max_tokens=10, seed=1)[0]
    assert text.startswith("ROMEO:")


def test_gpu_evaluation_matches_the_cpu():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=50, embedding_dim=32, hidden_size=32, num_layers=2)).eval()
    ids = np.random.default_rng(0).integers(0, 50, 3000).astype(np.uint16)
    cpu = total_nll(model, ids)
    gpu = total_nll(model.to(CUDA), ids)
    assert gpu == pytest.approx(cpu, rel=1e-4)


def test_the_generation_fast_path_runs_on_the_gpu_and_matches_the_lstm():
    torch.manual_seed(0)
    model = LSTMLanguageModel(ModelConfig(vocab_size=300, embedding_dim=64, hidden_size=64, num_layers=2)).to(CUDA)
    model.eval()
    ids = torch.tensor([3, 7, 11], device=CUDA)
    with torch.inference_mode():
        _, state = model.features(ids.view(3, 1))
        stepper = LSTMStepper(model, state)
        fast = stepper(ids).clone()  # (3, V)
        slow, _ = model(ids.view(3, 1), state)
    torch.testing.assert_close(fast, slow[:, -1], rtol=1e-4, atol=1e-4)
    drawn = list(sample_ids(model, [1, 2], 20, SampleConfig(temperature=1.0), num_samples=4, seed=0))
    again = list(sample_ids(model, [1, 2], 20, SampleConfig(temperature=1.0), num_samples=4, seed=0))
    assert all(a.is_cuda and torch.equal(a, b) for a, b in zip(drawn, again))  # same seed, same tokens
