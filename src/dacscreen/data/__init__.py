"""Structures, labelling, the dataset store and DFT input/output."""
