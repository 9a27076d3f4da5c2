"""Workflows that span the layers: the active-learning loop (label → train → screen → verify),
DFT verification of the screen's picks, and the export of DFT inputs for them. They sit above
``screening`` so that the screen itself needs neither the store nor the training code."""
