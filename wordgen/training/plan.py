"""The plan of a run: every setting it will use and where each came from, before anything is built.

`Plan.build` turns a TrainConfig and the prepared data's counts (training tokens,
vocabulary, device) into a complete config: the size rule fills what was left at
None (wordgen.training.sizerule.resolve), the tokenizer gives the vocabulary size,
and `eval_interval` becomes every half pass. Each field is marked with its source,
one of SOURCES; the callers that set fields say which (`sources`: dotted field ->
source, e.g. {"lr": "flag", "model.hidden_size": "lab"}), and the plan works out
the rest. `plan_run` prepares the corpus and tokenizer and plans the run as
`train()` would, without training: what `wordgen train --dry-run` prints.
`apply_settings` sets dotted fields on a config and marks them, for the lab's and
the tasks' overrides (wordgen.lab) and the command line's flags.

Not here: the rule's arithmetic (sizerule.py), building the model or the optimizer,
training, printing (the CLI prints `describe()` and `train()` logs `summary()`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, replace

from wordgen.config import AUTO_MODEL_FIELDS, TrainConfig
from wordgen.errors import ConfigError
from wordgen.training import sizerule
from wordgen.training.sizerule import Choice

RULE = "size rule"
SOURCES = {
    "default": "the general default (TrainConfig / ModelConfig)",
    "lab": "the lab's settings (wordgen.lab.LAB_OVERRIDES)",
    "task": "a task's own setting (wordgen/tasks/)",
    "flag": "a command-line option",
    "given": "set by the caller (a Python script, a notebook)",
    "command": "the command's own default (e.g. `wordgen train` has no default folder)",
    "compare": "set by `wordgen compare` for each run: the recipe shared by every tokenizer, the run's own "
               "tokenizer, folder, seed and validation length (wordgen.compare.recipe)",
    RULE: "chosen from the text and the budget (wordgen.training.sizerule)",
    "tokenizer": "the trained tokenizer's vocabulary",
    "half pass": "every half pass over the training text, 10 to 100 steps",
    "validation share": "the whole validation split, or as much of its start as keeps the periodic checks near "
                        "5 % of training's compute (wordgen.training.plan.eval_slice)",
    "device": "'auto' precision, chosen for the device",
    "base": "the base model's (TrainConfig.init): its network's shape, dropouts, optimizer and tokenizer, and "
            "the SHA-256 of its weights (wordgen.training.finetune)",
    "fine-tuning": "a share of the recipe's learning rate, for a run that starts from a base "
                   "(wordgen.training.finetune.FINETUNE_LR_SHARE)",
}
# The fields the size rule fills in when they are None; the training log names them.
RULE_FIELDS = (*(f"model.{name}" for name in AUTO_MODEL_FIELDS),
               "optimizer", "lr", "grad_clip", "batch_size", "seq_len", "weight_decay")
# What a field left at None means to the run, for the printed plan.
NONE_MEANS = {"out": "none", "init": "from scratch", "init_sha256": "none (from scratch)", "epochs": "no limit",
              "max_steps": "no limit", "time_budget": "no limit", "max_chars": "no limit",
              "patience": "never stop early"}
# The periodic checks' share of training's compute that `eval_slice` aims at, and the shortest
# slice it takes (fewer tokens judge early stopping on too little text).
VALIDATION_SHARE = 0.05
MIN_EVAL_TOKENS = 2_000


def eval_slice(batch_size: int, seq_len: int, interval: int, val_tokens: int | None) -> int:
    """Tokens each periodic check scores: 0 (the whole split) when that is cheap enough, else the start of it.

    A scored token costs about a third of a trained one (a forward pass without the
    backward), so checking N tokens every `interval` steps of batch x window tokens
    takes N / 3 of every N / 3 + interval x batch x window units of compute; N is the
    largest that keeps this at VALIDATION_SHARE, and at least MIN_EVAL_TOKENS. Counted,
    not timed, so a seeded run validates the same text on every machine.
    """
    trained = interval * batch_size * seq_len
    n = max(MIN_EVAL_TOKENS, int(3 * trained * VALIDATION_SHARE / (1 - VALIDATION_SHARE)))
    return 0 if val_tokens is not None and n >= val_tokens else n


def flat(config: TrainConfig) -> dict[str, object]:
    """Every field of `config` by dotted name, in the dataclasses' order: {"corpus": ..., "model.hidden_size": ...}."""
    fields = {}
    for f in dataclasses.fields(config):
        if f.name == "model":
            fields.update({f"model.{m.name}": getattr(config.model, m.name) for m in dataclasses.fields(config.model)})
        else:
            fields[f.name] = getattr(config, f.name)
    return fields


def _check_names(names, what: str) -> None:
    unknown = sorted(set(names) - set(flat(TrainConfig())))
    if unknown:
        raise ConfigError(f"{what} names no TrainConfig field: {', '.join(unknown)} "
                          "(dotted names: 'lr', 'model.hidden_size')")


def apply_settings(config: TrainConfig, settings: dict[str, object], source: str,
                   sources: dict[str, str] | None = None) -> tuple[TrainConfig, dict[str, str]]:
    """A copy of `config` with `settings` (dotted field -> value) set, and `sources` with each marked `source`."""
    _check_names(settings, "a setting")
    top = {name: value for name, value in settings.items() if "." not in name}
    model = {name.split(".", 1)[1]: value for name, value in settings.items() if "." in name}
    config = replace(config, **top, model=replace(config.model, **model))
    return config, {**(sources or {}), **dict.fromkeys(settings, source)}


@dataclass(frozen=True)
class Plan:
    """A complete config, the source of each of its fields, and the counts it was planned from."""

    config: TrainConfig  # what the run uses: nothing the run needs is left at None
    sources: dict[str, str]  # dotted field -> a key of SOURCES, for every field
    choice: Choice  # the size rule's inputs (tokens, vocabulary, passes, strength) and picks
    windows_per_epoch: int  # windows of seq_len tokens in one pass over the (batch_size, L) table
    device: str  # the device type the run trains on ("cpu", "cuda", "mps")
    rate: float | None = None  # training tokens/s measured on this machine (wordgen.training.probe); None: not measured

    @classmethod
    def build(cls, config: TrainConfig, *, train_tokens: int, vocab_size: int, device: str = "cpu",
              val_tokens: int | None = None, chars_per_token: float | None = None, flops: float | None = None,
              rate: float | None = None, sources: dict[str, str] | None = None) -> Plan:
        """Fill in `config` (it is not changed) for `train_tokens` tokens of a `vocab_size` vocabulary on `device`.

        `sources` marks the fields the caller set (its values are keys of SOURCES);
        the others are the size rule's, the tokenizer's, the half pass's or the
        validation share's (of `val_tokens`, the validation split's length) where they
        were None, "device" for the precision 'auto' gives on `device` (train() and
        `plan_run` resolve 'auto' first), else "default" where they hold the general
        default, else "given". chars_per_token (the training text's) lets a character
        limit count in the passes; flops is the training FLOP/s measured on this
        machine, rate the tokens/s it was measured as (`with_probe` measures both).
        """
        given = dict(sources or {})
        _check_names(given, "train(sources=...)")
        before = flat(config)
        config = replace(config, model=replace(config.model, vocab_size=vocab_size))
        config, choice = sizerule.resolve(config, train_tokens, vocab_size, device, flops, chars_per_token)
        length = train_tokens // config.batch_size  # L: tokens per row of the training table
        windows = -(-(length - 1) // config.seq_len) if length > 1 else 0  # ceil((L - 1) / T)
        if config.eval_interval is None:
            # Every half pass, within [10, 100] steps: early stopping needs several checks per
            # pass on a small book, and a check costs about a tenth of a pass's compute.
            config.eval_interval = max(10, min(100, windows // 2))
        if config.eval_tokens is None:
            config.eval_tokens = eval_slice(config.batch_size, config.seq_len, config.eval_interval, val_tokens)
        defaults = flat(TrainConfig())
        auto = _auto_precision(device)
        marked = {}
        for name, value in flat(config).items():
            if name == "model.vocab_size":
                marked[name] = "tokenizer"
            elif before[name] is None and value is not None:
                marked[name] = {"eval_interval": "half pass", "eval_tokens": "validation share"}.get(name, RULE)
            elif name in given:
                marked[name] = given[name]
            elif name == "precision" and value == auto:
                marked[name] = "device"
            else:
                marked[name] = "default" if value == defaults[name] else "given"
        return cls(config=config, sources=marked, choice=choice, windows_per_epoch=windows, device=device, rate=rate)

    @classmethod
    def with_probe(cls, config: TrainConfig, probe: Callable[[TrainConfig], float], **counts) -> Plan:
        """`build(config, **counts)`, measured: where the size rule turns a time budget into passes,
        `probe(config)` (wordgen.training.probe.measure_rate on the run's table) gives the tokens/s of the
        first plan's model on this machine, and the plan is built again from that rate."""
        plan = cls.build(config, **counts)
        if config.time_budget is None or all(flat(config)[name] is not None for name in sizerule.PASS_FIELDS):
            return plan
        rate = probe(plan.config)
        m = plan.config.model
        flops = rate * sizerule.training_flops_per_token(plan.config, m.vocab_size, m.hidden_size)
        return cls.build(config, **counts, flops=flops, rate=rate)

    @property
    def chosen(self) -> list[str]:
        """The fields the size rule filled in (of RULE_FIELDS)."""
        return [name for name in RULE_FIELDS if self.sources[name] == RULE]

    def rule_inputs(self) -> str:
        """'83,603 training tokens, vocabulary 7,139, about 35.2 passes in the budget -> strength 1'."""
        c = self.choice
        passes = "unknown" if c.passes is None else f"{c.passes:.1f}"
        share = sizerule.counted_passes(c.vocab_size, c.passes) != c.passes
        kind = "character" if c.vocab_size < sizerule.SUBWORD_VOCAB else "subword"
        counted = f" ({sizerule.pass_share(c.vocab_size):g} of them counted for a {kind} vocabulary)" if share else ""
        measured = "" if self.rate is None else f" at {self.rate:,.0f} tokens/s measured"
        return (f"{c.train_tokens:,} training tokens, vocabulary {c.vocab_size:,}, "
                f"about {passes} passes in the budget{measured}{counted} -> strength {c.strength:g}")

    def summary(self) -> list[str]:
        """Two lines for the training log: the size rule's inputs and the values it touches, then the sources counted.

        A value the rule did not choose is followed by its source, e.g. "dropout 0.1 (lab)".
        """
        config, m = self.config, self.config.model

        def show(label: str, name: str, value) -> str:
            text = f"{label} {value:g}" if isinstance(value, (int, float)) else f"{label} {value}"
            return text + self._mark(name)

        batch = "batch_size" if self.sources["batch_size"] != RULE else "seq_len"
        parts = [f"{m.num_layers} x {m.hidden_size}" + self._mark("model.hidden_size"),
                 show("softmax", "model.softmax", m.softmax + (" tied" if m.tied() else "")),
                 *(show(label, f"model.{name}", getattr(m, name)) for label, name in (
                     ("dropout", "dropout"), ("input", "input_dropout"), ("hidden", "hidden_dropout"),
                     ("embedding", "embedding_dropout"), ("weight-drop", "weight_dropout"))),
                 show("weight-decay", "weight_decay", config.weight_decay),
                 show("optimizer", "optimizer", config.optimizer), show("lr", "lr", config.lr),
                 show("clip", "grad_clip", config.grad_clip),
                 f"batch {config.batch_size} x {config.seq_len}" + self._mark(batch)]
        counts = {}
        for source in self.sources.values():
            counts[source] = counts.get(source, 0) + 1
        tally = ", ".join(f"{n} {source}" for source, n in sorted(counts.items(), key=lambda item: -item[1]))
        return [f"size rule: {self.rule_inputs()}: " + ", ".join(parts),
                f"plan: {len(self.sources)} settings ({tally}); config.json lists the source of each"]

    def _mark(self, name: str) -> str:
        return "" if self.sources[name] == RULE else f" ({self.sources[name]})"

    def describe(self) -> list[str]:
        """The size rule's inputs, the batches, then every field with its value and its source."""
        c = self.config
        fields = {name: self._shown(name, value) for name, value in flat(c).items()}
        wide = max(map(len, fields))
        return [f"size rule: {self.rule_inputs()}",
                f"batches of {c.batch_size} x {c.seq_len}: {self.windows_per_epoch:,} windows per pass over the "
                f"training text; on {self.device} in {c.precision}",
                f"  {'setting':<{wide}}  {'value':<24}  from",
                *(f"  {name:<{wide}}  {shown:<24}  {self.sources[name]}" for name, shown in fields.items())]

    def _shown(self, name: str, value) -> str:
        if name == "model.adaptive_cutoffs" and value is None:
            model = self.config.model
            if model.output_layer() != "adaptive":
                return "unused (full softmax)"
            return ", ".join(f"{cut:,}" for cut in model.resolved_cutoffs())
        if value is None:
            return NONE_MEANS.get(name, "none")
        if name == "init_sha256":
            return f"{value[:12]}..."
        if name == "eval_tokens" and value == 0:
            return "the whole split"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)


def _auto_precision(device: str) -> str:
    """What precision 'auto' gives on a device of this type (wordgen.device.resolve_precision)."""
    import torch  # the plan itself is torch-free on import: the lab's settings are read by `wordgen --help`

    from wordgen.device import resolve_precision

    return resolve_precision("auto", torch.device(device))


def plan_run(config: TrainConfig, *, sources: dict[str, str] | None = None, tokenizer=None, dataset=None) -> Plan:
    """The plan `train(config)` would follow: the corpus and tokenizer prepared, the run not started.

    tokenizer / dataset as for `train()`. Fails where the run would fail before its
    first step (settings, a text too short for the batch, no validation text). Builds
    no model, except the throwaway one of the rate probe where the size rule has a time
    budget to turn into passes (`Plan.with_probe`), as the run itself would.
    """
    from wordgen.data import batchify  # torch: imported only when planning for real
    from wordgen.device import resolve_device, resolve_precision
    from wordgen.training.finetune import Base
    from wordgen.training.prepare import prepare
    from wordgen.training.probe import measure_rate

    config.validate()
    device = resolve_device(config.device)
    config = replace(config, model=replace(config.model), precision=resolve_precision(config.precision, device))
    if config.init:
        start = Base.open(config.init).start(config, dataset, sources, tokenizer)
        config, sources, tokenizer, dataset = start.config, start.sources, start.tokenizer, start.dataset
    _, tokenizer, train_stream, val_stream = prepare(config, tokenizer, dataset)
    if len(val_stream) < 2:
        raise ConfigError("the validation split has fewer than 2 tokens; use a longer text")

    def probe(planned: TrainConfig) -> float:
        planned.model.validate()
        return measure_rate(planned, batchify(train_stream.ids, planned.batch_size), device)

    plan = Plan.with_probe(config, probe, train_tokens=len(train_stream), vocab_size=tokenizer.vocab_size,
                           device=device.type, val_tokens=len(val_stream),
                           chars_per_token=train_stream.chars_per_token, sources=sources)
    plan.config.model.validate()
    batchify(train_stream.ids, plan.config.batch_size)  # a view: raises as train() would for a short text
    return plan
