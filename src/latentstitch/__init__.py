"""latentstitch: latent space translation via semantic alignment (Maiorca, Moschella et al., 2023)."""

__version__ = "0.1.0"
