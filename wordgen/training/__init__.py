"""Training: corpus in, checkpoint folder out.

    loop.py           train(config) -> TrainResult: the loop, top to bottom
    state.py          the run's state in typed pieces (cursor, loss tally, clock, best, limits)
    result.py         what train() hands back
    prepare.py        corpus -> tokenizer -> token stores, cached
    plan.py           every setting filled in and marked with where it came from (--dry-run prints it)
    sizerule.py       the size rule: settings left open, chosen from the text and the budget
    optim.py          the optimizer and the learning-rate schedule
    plateau.py        early stopping: each validation answered with a Decision
    trainer_state.py  what trainer_state.pt holds, and putting a run back from it
    checkpoint.py     the checkpoint folder: atomic saves, checked loads, the lock
    stopping.py       SIGINT / SIGTERM: stop after the step, save, raise Interrupted
    progress.py       the progress bar, or a line every few seconds in a log

The public names are exported by `wordgen` itself (`wordgen.train`, `wordgen.Bundle`).
"""
