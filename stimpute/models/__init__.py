"""Neural imputation models: layout [batch, time, node, feature] at every entry point."""

from stimpute.models.psan import PSAN, PSANConfig
from stimpute.models.st_transformer import STTransformer, STTransformerConfig

__all__ = ["PSAN", "PSANConfig", "STTransformer", "STTransformerConfig"]
