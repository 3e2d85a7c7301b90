"""When has a run diverged? The signs, each with the reason a user reads in ``message``.

NaN is only the loudest sign. A learning rate far too high can also leave the loss finite but
stuck at the clipping ceiling of a cross-entropy (every prediction saturated at the clip),
the weights near 1e24, or the loss simply higher at the end than before training.
"""

import math
from dataclasses import dataclass

import numpy as np

from nncore.losses import CLIP

CEILING = -math.log(CLIP)  # 16.12: the largest per-sample loss once predictions are clipped
CLIPPED_LOSSES = ("categorical_crossentropy", "binary_crossentropy")
SATURATED_EPOCHS = 10  # "stuck at the ceiling" means this many epochs in a row
PARAMETER_EVERY = 10  # epochs between parameter checks (two reductions over all parameters)
ENDS_ABOVE = 1.5  # a final training loss above this multiple of the untrained one has diverged


@dataclass
class Sign:
    """One sign of divergence; ``fatal`` ones stop the run whatever stop_on_divergence says."""

    reason: str
    fatal: bool = False


class DivergenceWatch:
    """Looks at each epoch's loss (free), the parameters every PARAMETER_EVERY epochs (cheap),
    and the final loss against the untrained one."""

    def __init__(self, loss_name, parameters, hint=""):
        self.clipped = loss_name in CLIPPED_LOSSES
        self.loss_name = loss_name
        self.parameters = parameters  # the model's flat parameter array
        self.limit = math.sqrt(np.finfo(parameters.dtype).max)  # a square beyond this overflows
        self.hint = hint
        self.untrained = math.nan
        self.saturated_since = None

    def start(self, untrained_loss):
        self.untrained = untrained_loss

    def epoch(self, epoch, loss, data_loss):
        """Sign after one epoch, or None; ``loss`` includes the penalties, ``data_loss`` not."""
        if not math.isfinite(loss):
            return self._sign(f"train_loss became {loss} at epoch {epoch}", fatal=True)
        if epoch % PARAMETER_EVERY == 0:
            sign = self.check_parameters(epoch)
            if sign:
                return sign
        return self._saturation(epoch, data_loss)

    def check_parameters(self, epoch):
        low, high = float(self.parameters.min()), float(self.parameters.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            return self._sign(f"parameters became non-finite at epoch {epoch}", fatal=True)
        peak = max(-low, high)
        if peak > self.limit:
            dtype = self.parameters.dtype.name
            return self._sign(
                f"parameters reached {peak:.3g} at epoch {epoch}, beyond what {dtype} "
                f"holds safely ({self.limit:.3g})"
            )
        return None

    def _saturation(self, epoch, data_loss):
        stuck = self.clipped and data_loss >= CEILING / 2 and data_loss > self.untrained
        if not stuck:
            self.saturated_since = None
            return None
        if self.saturated_since is None:
            self.saturated_since = epoch
        if epoch - self.saturated_since + 1 < SATURATED_EPOCHS:
            return None
        return self._sign(
            f"train_loss stuck at {data_loss:.4g} since epoch {self.saturated_since}, at the "
            f"clipping ceiling of {self.loss_name} ({CEILING:.2f} per sample): predictions saturated"
        )

    def end(self, epoch, data_loss):
        """Sign at the end of training, or None."""
        if epoch > 0 and data_loss > ENDS_ABOVE * self.untrained:
            return self._sign(
                f"train_loss ended at {data_loss:.4g}, above the untrained network's "
                f"{self.untrained:.4g} (epoch 0)"
            )
        return None

    def _sign(self, reason, fatal=False):
        return Sign(f"{reason}; {self.hint}" if self.hint else reason, fatal)
