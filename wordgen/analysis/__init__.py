"""Numbers about models and the text they write, none of which trains anything.

    textstats.py   loops, distinct-n, copied stretches, n-gram index (no torch)
    embeddings.py  nearest neighbours and 2-D maps of learned embeddings
"""
