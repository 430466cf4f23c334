"""Neural imputation models: layout [batch, time, node, feature] at every entry point."""

from stimpute.models.st_transformer import STTransformer, STTransformerConfig

__all__ = ["STTransformer", "STTransformerConfig"]
