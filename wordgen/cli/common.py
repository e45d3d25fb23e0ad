"""What the commands share: the metrics printout and the device check before any work."""

from __future__ import annotations


def print_metrics(title: str, metrics) -> None:
    print(f"{title}: {metrics.num_tokens:,} tokens, {metrics.num_chars:,} characters, {metrics.num_words:,} words")
    print(f"  perplexity per token  {metrics.ppl_token:10.2f}")
    print(f"  bits per character    {metrics.bits_per_char:10.3f}")
    print(f"  perplexity per word   {metrics.ppl_word:10.2f}")
    if metrics.num_unk:
        print(f"  <unk> rate            {metrics.unk_rate:10.2%}   (unseen words share one <unk>: "
              "the figures above are optimistic)")


def refuse_missing_device(args) -> None:
    """A device this machine lacks (--device mps / cuda without one) is refused before any work."""
    from wordgen.device import resolve_device

    resolve_device(args.device)
