"""The `wordgen` command's options: one argparse table per command, and options -> config.

`build_parser()` describes every command and option (with its default and help);
`train_config(args)` turns the parsed training options into a TrainConfig. cli.py
parses with them and runs the command; nothing here parses, prints or trains.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from wordgen.config import ModelConfig, TrainConfig
from wordgen.errors import UsageError
from wordgen.lab import (
    LAB_MAX_TOKENS,
    LAB_PROMPT,
    LAB_TEMPERATURES,
    LAB_TIME_BUDGET,
    LAB_TOP_K,
    LAB_TOP_P,
    lab_train_config,
)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: `wordgen: error: ...` and exit 2, like every other error.

    argparse's own `error` prints the whole usage block first (13 lines for `train`);
    this one raises UsageError, which main() prints on one line. Subparsers are made
    with the parser's own class, so they inherit it.
    """

    def error(self, message: str):
        text = " ".join(message.split())  # argparse's messages may wrap
        raise UsageError(f"{text} (see {self.prog} --help)")


def _add_corpus_options(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument(
        "--corpus", default=default,
        help="what to train or evaluate on: a built-in corpus (`shakespeare`, `shakespeare:macbeth`; "
             "see `wordgen corpora`), a .txt file, a folder of them or a glob (Project Gutenberg "
             "headers are stripped), or a Hugging Face dataset `hf:NAME[:CONFIG]` (needs the network "
             "unless NAME is a local folder)" + (f" (default: {default})" if default else ""),
    )
    p.add_argument("--stage-directions", action="store_true",
                   help="keep Shakespeare's stage directions as [bracketed] lines (default: dropped)")


def _add_train_options(p: argparse.ArgumentParser, *, lab: bool) -> None:
    d = lab_train_config() if lab else TrainConfig()
    m = d.model
    _add_corpus_options(p, d.corpus)
    p.add_argument("--tokenizer", default=d.tokenizer,
                   help="char, word (word:min_freq=2,max_vocab=10000), bpe (bpe:VOCAB, e.g. bpe:2000), "
                        f"hf:PATH/tokenizer.json, or a name given to register_tokenizer (default: {d.tokenizer})")
    p.add_argument("--out", default=d.out if lab else None,
                   help="checkpoint folder to write" + (f" (default: {d.out}, replaced on each run)" if lab else ""))
    budget = d.time_budget if lab else None
    p.add_argument("--time-budget", type=float, default=budget, metavar="SECONDS",
                   help="stop training after this many seconds" + (f" (default: {budget:g})" if lab else ""))
    p.add_argument("--epochs", type=float, default=None, help="stop after this many passes over the training text")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--chars", type=_count, default=None, metavar="N", dest="max_chars",
                   help="stop after reading N characters of training text (tokens x the text's characters per "
                        "token; 2e6 or 2000000): models with different tokenizers then read the same text")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seeds the split, initialisation and dropout (default: {d.seed})")
    auto = "chosen from the text's size by the size rule"

    def default(value) -> str:
        return f"default: {value:g}" if isinstance(value, (int, float)) else f"default: {value or auto}"

    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"parallel token streams B ({default(d.batch_size)})")
    p.add_argument("--seq-len", type=int, default=d.seq_len, help=f"tokens per BPTT window T ({default(d.seq_len)})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate ({default(d.lr)})")
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default=d.optimizer,
                   help="adamw, or plain sgd (word_language_model's recipe: --lr 20 --grad-clip 0.25) "
                        f"({default(d.optimizer)}; the rule picks sgd for vocabularies of 5000+, else adamw)")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip,
                   help=f"largest gradient norm ({default(d.grad_clip)})")
    p.add_argument("--embedding-dim", type=int, default=m.embedding_dim,
                   help=f"token embedding size ({default(m.embedding_dim)}; = hidden size when tied)")
    p.add_argument("--hidden-size", type=int, default=m.hidden_size, help=f"LSTM hidden size ({default(m.hidden_size)})")
    p.add_argument("--num-layers", type=int, default=m.num_layers, help=f"stacked recurrent layers (default: {m.num_layers})")
    p.add_argument("--dropout", type=float, default=m.dropout,
                   help=f"dropout on the top layer's output, before the softmax ({default(m.dropout)})")
    p.add_argument("--input-dropout", type=float, default=m.input_dropout,
                   help=f"dropout on the embedded input ({default(m.input_dropout)})")
    p.add_argument("--hidden-dropout", type=float, default=m.hidden_dropout,
                   help=f"dropout between recurrent layers ({default(m.hidden_dropout)})")
    p.add_argument("--embedding-dropout", type=float, default=m.embedding_dropout,
                   help=f"share of whole words dropped from the embedding per batch ({default(m.embedding_dropout)})")
    p.add_argument("--weight-dropout", type=float, default=m.weight_dropout,
                   help=f"DropConnect on the hidden-to-hidden weights ({default(m.weight_dropout)})")
    p.add_argument("--no-locked-dropout", action="store_true",
                   help="a fresh dropout mask at every time step instead of one per sequence")
    p.add_argument("--activation-reg", type=float, default=m.activation_reg,
                   help=f"activation regularisation alpha (default: {m.activation_reg:g})")
    p.add_argument("--temporal-activation-reg", type=float, default=m.temporal_activation_reg,
                   help=f"temporal activation regularisation beta (default: {m.temporal_activation_reg:g})")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay,
                   help=f"weight decay on the weight matrices, AdamW's or SGD's L2 ({default(d.weight_decay)})")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="validations without a new best before the learning rate drops, then before "
                        f"training stops early; 0: never stop early (default: {d.patience})")
    p.add_argument("--rnn", choices=["lstm", "gru"], default=m.rnn_type, help="recurrent cell (default: lstm)")
    p.add_argument("--no-tie-weights", action="store_true",
                   help="use a separate output matrix instead of reusing the input embedding "
                        "(the adaptive softmax always has its own)")
    p.add_argument("--softmax", choices=["full", "adaptive"], default=m.softmax,
                   help="output layer: full softmax, or the exact adaptive softmax (Grave et al. 2017), "
                        "several times faster for word vocabularies of 10 000+ (default: chosen by the "
                        "size rule, adaptive from 10 000 tokens)")
    p.add_argument("--eval-interval", type=int, default=d.eval_interval,
                   help="steps between validations and checkpoints (default: "
                        + (f"{d.eval_interval})" if d.eval_interval else "every half pass, 10 to 100 steps)"))
    p.add_argument("--eval-tokens", type=int, default=d.eval_tokens,
                   help="validation tokens per check during training, from the start of the split; 0: all "
                        f"(default: {d.eval_tokens})")
    p.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=d.precision,
                   help="bf16: train under bfloat16 autocast, faster where the CPU or GPU has bfloat16 units; "
                        f"auto: bf16 where it has them, else fp32 (default: {d.precision})")


def _count(text: str) -> int:
    """A positive count written as 2000000, 2_000_000 or 2e6 (argparse type)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of characters such as 2000000 or 2e6, got {text!r}")
    if not value >= 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number of characters of at least 1, got {text!r}")
    return int(value)


def train_config(args, *, lab: bool = False) -> TrainConfig:
    base = lab_train_config() if lab else TrainConfig()  # fields without a flag keep these
    return replace(
        base, corpus=args.corpus, tokenizer=args.tokenizer, out=args.out,
        model=ModelConfig(
            embedding_dim=args.embedding_dim, hidden_size=args.hidden_size, num_layers=args.num_layers,
            dropout=args.dropout, input_dropout=args.input_dropout, hidden_dropout=args.hidden_dropout,
            embedding_dropout=args.embedding_dropout, weight_dropout=args.weight_dropout,
            locked_dropout=not args.no_locked_dropout, activation_reg=args.activation_reg,
            temporal_activation_reg=args.temporal_activation_reg,
            rnn_type=args.rnn, tie_weights=False if args.no_tie_weights else None, softmax=args.softmax,
        ),
        batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, weight_decay=args.weight_decay,
        optimizer=args.optimizer, grad_clip=args.grad_clip, patience=args.patience or None,
        epochs=args.epochs, max_steps=args.max_steps, time_budget=args.time_budget, max_chars=args.max_chars,
        eval_interval=args.eval_interval, eval_tokens=args.eval_tokens or None, seed=args.seed,
        device=args.device, precision=args.precision, stage_directions=args.stage_directions,
        streaming=getattr(args, "streaming", False), dist_timeout=getattr(args, "dist_timeout", base.dist_timeout),
    )


def _add_cache_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--cache", action="store_true",
                   help=f"{what} with a neural cache (Grave et al. 2017): what followed similar moments earlier "
                        "in the same text becomes likelier; nothing is retrained (default: off)")
    p.add_argument("--cache-window", type=int, default=None, help="with --cache: positions kept (default: 2000)")
    p.add_argument("--cache-theta", type=float, default=None,
                   help="with --cache: sharpness of the match between positions (default: 0.3)")
    p.add_argument("--cache-lambda", type=float, default=None,
                   help="with --cache: the cache's share of the distribution, in (0, 1) (default: 0.1)")


def _add_sample_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    p.add_argument("--max-tokens", type=int, default=100, help="tokens to generate per sample (default: 100)")
    p.add_argument("--greedy", action="store_true", help="always take the most likely token (ignores the others)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="divide the logits by this; < 1 is safer, > 1 wilder, 0 means greedy (default: 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="sample only among the K most likely tokens")
    p.add_argument("--top-p", type=float, default=None,
                   help="sample only among the smallest set of tokens whose probability reaches P, in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same text (default: 0)")
    p.add_argument("--num-samples", type=int, default=1, help="independent samples to draw (default: 1)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="wordgen", description="Word-level text generation lab: train, sample, evaluate and compare."
    )
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="import MODULE first (a .py file in the current folder, or an installed module), so the "
             "tokenizers it registers with wordgen.register_tokenizer can be named by --tokenizer; repeatable",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("lab", help="the lab end to end on the built-in Shakespeare corpus",
                       description=f"Train a word-level LSTM ({LAB_TIME_BUDGET:g} s by default), print "
                                   "validation perplexity per token, bits per character and perplexity per word, "
                                   "then generate from the same prompt with greedy decoding, temperatures "
                                   + "/".join(f"{t:g}" for t in LAB_TEMPERATURES) + ", top-k and top-p.")
    _add_train_options(p, lab=True)
    p.add_argument("--prompt", default=LAB_PROMPT,
                   help=f"prompt for every sampler (default: {LAB_PROMPT!r})")
    p.add_argument("--max-tokens", type=int, default=LAB_MAX_TOKENS,
                   help=f"tokens per sample (default: {LAB_MAX_TOKENS})")
    p.add_argument("--top-k", type=int, default=LAB_TOP_K,
                   help=f"k of the top-k sample (default: {LAB_TOP_K})")
    p.add_argument("--top-p", type=float, default=LAB_TOP_P,
                   help=f"p of the top-p sample (default: {LAB_TOP_P})")

    p = sub.add_parser("train", help="train a model and write a checkpoint folder",
                       description="Train the shared LSTM language model on a corpus with a tokenizer. Give at "
                                   "least one of --epochs, --max-steps, --chars, --time-budget.")
    _add_train_options(p, lab=False)
    p.add_argument("--resume", metavar="DIR", default=None,
                   help="continue the run saved in DIR (model, optimizer, step, RNG); stop limits may be raised; "
                        "a run of N processes resumes in any number of them")
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--streaming", action="store_true",
                   help="read the corpus as a stream: hf: datasets through datasets' streaming (no arrow copy), "
                        "folders and globs one file at a time when reached; the encoded tokens still go to the "
                        "cache (see README, 'Bigger corpora and more machines')")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train in N processes on this machine (DistributedDataParallel, started through "
                        "torchrun's launcher; gloo on CPUs, NCCL on GPUs); --batch-size is their batch together. "
                        "For several machines run torchrun yourself: torchrun --nnodes ... -m wordgen train ...")
    p.add_argument("--dist-timeout", type=float, default=TrainConfig().dist_timeout, metavar="SECONDS",
                   help="with several processes: how long one waits for the others before it stops with an "
                        f"error (default: {TrainConfig().dist_timeout:g})")

    p = sub.add_parser("generate", help="generate text from a checkpoint",
                       description="Generate text from a checkpoint folder, printed as it is sampled.")
    p.add_argument("checkpoint", help="checkpoint folder written by `wordgen train`")
    _add_sample_options(p)
    _add_cache_options(p, "generate")

    p = sub.add_parser("evaluate", help="score a checkpoint on held-out text",
                       description="Perplexity per token, bits per character and perplexity per word of a "
                                   "checkpoint on a corpus split or a whole text file.")
    p.add_argument("checkpoint", help="checkpoint folder written by `wordgen train`")
    _add_corpus_options(p, None)
    p.add_argument("--split", choices=["train", "validation", "test"], default=None,
                   help="which split of --corpus to score. Default: the test split of the checkpoint's own "
                        "corpus (split with its seed, so the text is unseen); a --corpus that is not the "
                        "checkpoint's own is scored whole, all of its text, unless --split is given")
    p.add_argument("--text-file", default=None, help="score this whole UTF-8 text file instead of a split")
    p.add_argument("--streaming", action="store_true",
                   help="read the corpus as a stream (default: as the checkpoint was trained); the encoded "
                        "split goes to the cache and is scored from there")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_cache_options(p, "score")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")

    sub.add_parser("corpora", help="list the built-in corpora", description="List the built-in corpora and plays.")

    p = sub.add_parser("serve", help="open a local web playground over one or two checkpoints",
                       description="Serve a web page to play with checkpoints: streaming generation with each "
                                   "token's probability and candidates, picking the next word by hand, the "
                                   "tokenization of a text, and per-token surprisal; two checkpoints side by "
                                   "side. Needs the serve extra: pip install -e \".[serve]\".")
    p.add_argument("checkpoints", nargs="+", metavar="CKPT", help="checkpoint folders written by `wordgen train`")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens it to "
                        "the network)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0: any free port)")
    p.add_argument("--max-concurrent", type=int, default=4, metavar="N",
                   help="model calls that may run at once; more get HTTP 503 'busy' (default: 4)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: auto)")

    # "resolve": the shared training options are reused, and the two that mean
    # something else here (--tokenizer, --out) are replaced.
    p = sub.add_parser("compare", conflict_handler="resolve",
                       help="train one model per tokenizer and compare them fairly",
                       description="Train the same model on the same split under the same budget once per "
                                   "tokenizer, evaluate each on the test split, and write report.md, "
                                   "results.csv, results.json, comparison.png and one checkpoint per "
                                   "tokenizer (OUT/runs/NAME). Bits per character and perplexity per word "
                                   "compare across tokenizations; perplexity per token does not.")
    _add_train_options(p, lab=False)
    p.add_argument("--tokenizers", "--tokenizer", dest="tokenizers", default="char,word,bpe:500,bpe:2000,bpe:8000",
                   help="tokenizer specs separated by commas; a comma followed by key=value stays inside the "
                        "spec before it (char,word:min_freq=2,max_vocab=10000,bpe:2000); with ';' in the "
                        "list only ';' separates (for paths with commas). Default: char,word,bpe:500,bpe:2000,bpe:8000")
    p.add_argument("--out", required=True, help="report folder; checkpoints go to OUT/runs/NAME")
    p.add_argument("--match", choices=["size", "params"], default="size",
                   help="size: every model gets --embedding-dim/--hidden-size (default); params: the hidden "
                        "size is scaled so every model has about the same number of parameters")
    p.add_argument("--params", type=int, default=None, metavar="N",
                   help="parameter target for --match params (default: the default-size model with the "
                        "median vocabulary of the list)")
    p.add_argument("--unk-penalty", action="store_true",
                   help="charge every <unk> the cost of spelling its word with the char model of the "
                        "comparison (uniform over the training characters when there is none)")
    p.add_argument("--eval-corpus", default=None, metavar="PATH",
                   help="also evaluate every model on this text file (e.g. another book)")
    # Short runs need frequent, cheap checks to draw learning curves; the checks
    # count against --time-budget, so each reads only --eval-chars characters.
    p.add_argument("--eval-interval", type=int, default=20,
                   help="steps between validations and checkpoints (default: 20)")
    p.add_argument("--eval-chars", type=int, default=10_000,
                   help="characters of validation text per periodic check, the same stretch for every "
                        "tokenizer (default: 10000; 0: the whole split)")
    p.add_argument("--prompt", default="", help="common prompt of the samples (default: start a new line)")
    p.add_argument("--sample-chars", type=int, default=160, help="characters per sample (default: 160; 0: none)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default: 0.8)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="train every tokenizer N times, with seeds SEED..SEED+N-1 (the split stays SEED's); the "
                        "table then shows mean ± standard deviation and 95%% intervals, and marks rows the best "
                        "cannot be told apart from (default: 1; 3 or more for figures to publish)")
    p.add_argument("--overwrite", action="store_true", help="replace a comparison already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser
