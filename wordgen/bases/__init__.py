"""The base models shipped with wordgen: data, not code.

One folder per base (`word/`, `bpe/`), each a checkpoint folder as `wordgen train`
writes one (config.json, tokenizer.json, model.safetensors in float16) with its
model card (README.md): what it read, the command that made it, its cost and its
held-out figures. `--init base:NAME` (wordgen.training.finetune) loads them;
MANIFEST.tsv lists the ebooks they read (file, Project Gutenberg ebook id).
`python -m benchmarks.bases` remakes them.
"""
