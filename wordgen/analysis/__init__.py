"""Numbers about models and the text they write, none of which trains anything.

    textstats.py   loops, distinct-n, n-gram index (no torch)
    copying.py     the longest stretches a sample copies from the training text: a suffix array (no torch)
    embeddings.py  nearest neighbours and 2-D maps of learned embeddings
"""
