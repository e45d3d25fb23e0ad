"""The settings' field metadata -> command-line options -> settings, and library errors named as flags."""

import argparse
import ast
import dataclasses
import re
from pathlib import Path

import pytest

from wordgen import lab
from wordgen.config import ModelConfig, SampleConfig, TrainConfig
from wordgen.errors import CheckpointError, ConfigError, WordgenError
from wordgen.options import _options, add_settings, build_parser, command_base, flag_of, for_command_line, settings_from

# A value other than the default for every field with an option: (what the command line says, the value).
VALUES = {
    "corpus": ("book.txt", "book.txt"), "tokenizer": ("char", "char"), "out": ("runs/x", "runs/x"),
    "init": ("base:word", "base:word"),
    "batch_size": ("7", 7), "seq_len": ("9", 9), "lr": ("0.5", 0.5), "optimizer": ("sgd", "sgd"),
    "weight_decay": ("0.2", 0.2), "grad_clip": ("0.25", 0.25), "epochs": ("1.5", 1.5), "max_steps": ("11", 11),
    "time_budget": ("30", 30.0), "max_chars": ("2e3", 2000), "eval_interval": ("5", 5), "patience": ("0", None),
    "eval_tokens": ("0", 0), "seed": ("4", 4), "device": ("cpu", "cpu"), "precision": ("bf16", "bf16"),
    "stage_directions": (None, True), "streaming": (None, True), "dist_timeout": ("5", 5.0),
    "model.embedding_dim": ("12", 12), "model.hidden_size": ("14", 14), "model.num_layers": ("3", 3),
    "model.dropout": ("0.3", 0.3), "model.input_dropout": ("0.2", 0.2), "model.hidden_dropout": ("0.1", 0.1),
    "model.locked_dropout": (None, False), "model.embedding_dropout": ("0.05", 0.05),
    "model.weight_dropout": ("0.4", 0.4), "model.activation_reg": ("2", 2.0),
    "model.temporal_activation_reg": ("1", 1.0), "model.rnn_type": ("gru", "gru"),
    "model.tie_weights": (None, False), "model.softmax": ("adaptive", "adaptive"),
}


def parser_for(config) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_settings(parser, config)
    return parser


def test_every_option_field_has_one_flag_of_its_own():
    paths = [path for path, _, _ in _options(TrainConfig())]
    assert sorted(paths) == sorted(VALUES)  # a new field with an option needs a value above
    flags = [flag_of(f) for _, f, _ in _options(TrainConfig())]
    assert len(set(flags)) == len(flags)
    assert {"--chars", "--rnn", "--no-tie-weights", "--no-locked-dropout", "--max-steps"} <= set(flags)


@pytest.mark.parametrize("path", sorted(VALUES))
def test_each_flag_maps_back_to_its_own_field(path):
    text, expected = VALUES[path]
    f = {p: f for p, f, _ in _options(TrainConfig())}[path]
    args = parser_for(TrainConfig()).parse_args([flag_of(f)] + ([] if text is None else [text]))
    config, sources = settings_from(args, TrainConfig())
    assert sources == {path: "flag"}
    owner, name = (config.model, path[len("model."):]) if path.startswith("model.") else (config, path)
    assert getattr(owner, name) == expected
    # every other field keeps the base's value
    base = TrainConfig()
    for other, _, value in _options(base):
        if other != path:
            assert getattr(*((config.model, other[6:]) if other.startswith("model.") else (config, other))) == value


def test_nothing_given_keeps_the_base_and_names_no_source():
    base = lab.lab_train_config()
    config, sources = settings_from(parser_for(base).parse_args([]), base)
    assert config == base and sources == {}
    assert config is not base and config.model is not base.model  # a copy: the base is never changed


def test_only_the_options_given_count_even_with_the_defaults_in_the_namespace():
    args = parser_for(lab.lab_train_config()).parse_args(["--max-steps", "3"])
    assert args.seed == 0 and args.time_budget == lab.LAB_TIME_BUDGET  # defaults are there to read
    other_base = dataclasses.replace(TrainConfig(), seed=9)
    config, sources = settings_from(args, other_base)
    assert config.seed == 9 and config.max_steps == 3 and sources == {"max_steps": "flag"}


def test_the_sampler_options_map_to_sample_config():
    parser = parser_for(SampleConfig())
    sample, sources = settings_from(parser.parse_args(["--greedy", "--top-k", "5", "--top-p", "0.5"]), SampleConfig())
    assert sample == SampleConfig(greedy=True, top_k=5, top_p=0.5)
    assert sources == {"greedy": "flag", "top_k": "flag", "top_p": "flag"}


def help_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_the_commands_show_defaults_from_the_config_and_say_size_rule_once_per_field(capsys):
    train = help_of("train", capsys)
    assert "--hidden-size HIDDEN_SIZE recurrent hidden size (default: size rule)" in train
    assert "chosen from the text's size" not in train and train.count("A default of 'size rule' means") == 1
    left_to_the_rule = [path for path, f, value in _options(command_base("train")) if value is None
                        and f.metadata["size_rule"]]
    assert train.count("(default: size rule)") == len(left_to_the_rule) == 14
    assert "--time-budget SECONDS stop training after this many seconds (default: 150)" in help_of("lab", capsys)
    compare = help_of("compare", capsys)
    assert "--eval-interval EVAL_INTERVAL steps between validations and checkpoints (default: 20)" in compare
    assert "--tokenizer TOKENIZER " not in compare  # compare has --tokenizers instead


def test_the_command_line_builds_the_same_config_as_the_library_defaults_plus_flags():
    args = build_parser().parse_args(["lab", "--max-steps", "4", "--hidden-size", "64"])
    config, sources = settings_from(args, command_base("lab"))
    expected = lab.lab_train_config(max_steps=4)
    expected.model.hidden_size = 64
    assert config == expected and sources == {"max_steps": "flag", "model.hidden_size": "flag"}


# ---------------------------------------------------------------- errors: field names -> flags


@pytest.mark.parametrize("message, shown", [
    ("TrainConfig.epochs must be positive, got -1", "--epochs must be positive, got -1"),
    ("TrainConfig.max_chars must be at least 1", "--chars must be at least 1"),
    ("ModelConfig.rnn_type must be 'lstm' or 'gru'", "--rnn must be 'lstm' or 'gru'"),
    ("TrainConfig.model.hidden_size too small", "--hidden-size too small"),
    ("untie them: ModelConfig.tie_weights=False.", "untie them: --no-tie-weights."),
    ("ModelConfig.tie_weights=True is refused", "ModelConfig.tie_weights=True is refused"),  # no flag says True
    ("(TrainConfig.patience=None: never)", "(--patience 0: never)"),
    ("try TrainConfig.optimizer='sgd'", "try --optimizer sgd"),
    ("SampleConfig.top_k must be at least 1", "--top-k must be at least 1"),
    ("TrainConfig.plateau_factor above 1", "TrainConfig.plateau_factor above 1"),  # no flag: the field's name
    ("CompareSettings.params must be positive", "--params must be positive"),
    ("CompareSettings.eval_chars, CompareSettings.sample_chars", "--eval-chars, --sample-chars"),
    ("CompareSettings.overwrite=True replaces it", "--overwrite replaces it"),
    ("CompareSettings.base.max_steps", "--max-steps"),
    ("CompareSettings.eval_chars=None reads it all", "--eval-chars 0 reads it all"),
    ("CompareSettings.base is copied", "CompareSettings.base is copied"),  # no flag of its own
    ("resume it with train(resume=True) or pass train(overwrite=True)", "resume it with --resume DIR or pass --overwrite"),
])
def test_a_library_error_is_shown_with_the_flags(message, shown):
    assert for_command_line(WordgenError(message)) == shown


def test_a_checkpoint_error_keeps_the_names_of_its_saved_settings():
    err = CheckpointError("ckpt/config.json is damaged: ModelConfig.num_layers must be at least 1, got -1")
    assert for_command_line(err) == str(err)
    assert for_command_line(CheckpointError("x holds a checkpoint: train(overwrite=True)")).endswith(": --overwrite")


def test_renames_name_another_commands_flags():
    err = ConfigError("TrainConfig.corpus is empty; SampleConfig.temperature must be >= 0")
    assert for_command_line(err, {"TrainConfig.corpus": "--book", "SampleConfig.temperature": "--temperatures"}) == \
        "--book is empty; --temperatures must be >= 0"


@pytest.mark.parametrize("config, shown", [
    (TrainConfig(), "say when to stop: give --epochs, --max-steps, --chars or --time-budget"),
    (TrainConfig(max_steps=0), "--max-steps must be at least 1, got 0"),
    (TrainConfig(time_budget=0), "--time-budget must be positive seconds, got 0"),
    (TrainConfig(max_steps=1, patience=-2), "--patience must be at least 1, got -2 (--patience 0 never stops early)"),
    (TrainConfig(max_steps=1, model=ModelConfig(embedding_dim=8, hidden_size=16)),
     "tied weights need --embedding-dim == --hidden-size (8 != 16); or untie them: --no-tie-weights"),
    (SampleConfig(top_p=1.5), "--top-p must be in (0, 1], got 1.5"),
])
def test_the_settings_errors_name_fields_and_read_as_flags_on_the_command_line(config, shown):
    with pytest.raises(ConfigError) as err:
        config.validate()
    assert "--" not in str(err.value)  # the library names fields, never flags
    assert for_command_line(err.value) == shown


def _raised_texts(path: Path) -> list[str]:
    """The string pieces of every `raise` in a module (f-strings included)."""
    texts = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            texts.append("".join(c.value for c in ast.walk(node.exc)
                                 if isinstance(c, ast.Constant) and isinstance(c.value, str)))
    return texts


def test_no_raise_in_the_library_names_a_flag():
    # Only the command lines (cli/, options.py, the tasks) speak of flags; a pip command in a
    # message (how to reinstall a dependency) names pip's flags, not wordgen's.
    package = Path(__file__).resolve().parents[1] / "wordgen"
    library = [path for path in package.rglob("*.py")
               if path.name != "options.py" and path.parent.name not in ("cli", "tasks")]
    texts = [(path.name, text) for path in library for text in _raised_texts(path)]
    assert len(texts) > 100  # the walk found the library's raises
    flagged = [(name, text) for name, text in texts if re.search(r"(?<![\w-])--[a-z]", text) and "pip install" not in text]
    assert not flagged


def test_compare_options_are_the_compare_settings_fields_the_error_names_rely_on():
    from wordgen.compare import CompareSettings
    from wordgen.options import _COMPARE_FIELDS

    args = vars(build_parser().parse_args(["compare", "--out", "report"]))
    training = {path for path, _, _ in _options(command_base("compare"))} - {"tokenizer", "out"}  # compare's own
    own = set(args) - training - {"command", "plugin", "quiet"}
    assert own == _COMPARE_FIELDS <= {f.name for f in dataclasses.fields(CompareSettings)}
