"""Generation: from a trained model and a prompt to text.

    sampling.py   logits -> the sampler's distribution and the next token (greedy, temperature, top-k, top-p)
    decode.py     the engine: step records as drawn; generate() and stream() read them
    stepper.py    the batch-1 fast path (packed weights, one product per layer)
    cache.py      the neural cache: recent positions vote for what followed them

The public names are exported by `wordgen` itself (`wordgen.generate`, `wordgen.stream`).
"""
