"""Real public numpy functions, ported with as few changes as possible, that
tests/test_corpus.py differentiates in every mode and checks against finite
differences and autograd. One module per origin; each says where it comes from."""
