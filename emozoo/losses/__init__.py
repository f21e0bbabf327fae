"""Losses shared by several methods (soft-HGR, consistency terms, K+1 losses)."""
from emozoo.losses.soft_hgr import SoftHGRLoss, common_loss, soft_hgr_score, soft_hgr_score_numpy  # noqa: F401
from emozoo.losses.kplus1 import (classifier_loss, discriminator_loss, fake_loss, feature_matching_loss,  # noqa: F401
                                  real_loss, supervised_loss)
from emozoo.losses.consistency import consistency_term  # noqa: F401
