"""The paper's appendix experiments, each a library module the ``appendix`` stage drives:

- ``rescaling``: rescaling injection inside a transformer (App. A.1, Figure 12)
- ``mlp_scaling``: input rescaling of ReLU / tanh / cosine MLP heads (App. A.1, Figure 13)
- ``walkthrough``: the translation steps on a toy space (Section 3.2, Figure 2)
- ``cross_domain``: stitching across two domains of the same images (App. A, Figure 7)

Each module computes its numbers, checks the paper's claim on them (``claim``) and draws its
figure (``plot``).
"""
