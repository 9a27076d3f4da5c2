"""Graph neural networks, deep ensembles, training and evaluation."""
