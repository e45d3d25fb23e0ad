"""The playground: `wordgen serve CKPT [CKPT]` opens a local web page over the library.

    playground.py   loaded checkpoints, limits, worker threads: calls into generation / evaluate / textstats
    app.py          FastAPI routes: JSON endpoints, a server-sent event stream of tokens, the page
    server.py       uvicorn in the foreground (the CLI) or in a thread (tests, benchmarks)
    static/         the page itself: one HTML file, one script, one style sheet, nothing fetched from elsewhere

The web layer holds no model code: what it shows comes from `generation.decode.stream_steps`
(tokens with their probabilities and top candidates, forced tokens for "pick the
next word"), `generation.decode.token_pieces`, `evaluate.score_tokens` and
`analysis.textstats.find_text_loop`. fastapi and uvicorn come with the `serve` extra
(`pip install -e ".[serve]"`) and are imported only by app.py and server.py.
"""
