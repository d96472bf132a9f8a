"""Training, evaluation and export of the classifiers (optional extra: imports torch).

The runtime never imports this package.
"""
