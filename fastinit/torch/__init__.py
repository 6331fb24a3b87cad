"""fastinit.torch: torch.nn.init at memory speed, models materialized by parameter name, shards
generated alone.

Install with ``pip install "fastinit-keras[torch]"``.  Three uses:

- Drop-in functions: `uniform_`, `normal_`, `trunc_normal_`, `constant_`, `ones_`, `zeros_`,
  `eye_`, `dirac_`, `xavier_uniform_`, `xavier_normal_`, `kaiming_uniform_`, `kaiming_normal_`,
  `orthogonal_`, `sparse_` and `calculate_gain`, with torch.nn.init's signatures, defaults, fans,
  formulas and messages, plus a keyword `seed=`.
- `patch()`: while active, torch.nn.init's functions (and the names torch's modules imported
  from it) run on fastinit, so ``nn.Linear(...)``, ``reset_parameters()`` and friends do too.
- `materialize(module, seed)`: give a model built on the meta device real CPU storage and
  initialize every tensor from (seed, its qualified name); `fill_shard` fills any piece of a
  tensor from its global offsets, bit-identical to the same piece of the whole.

``import fastinit`` never imports torch; this module does.
"""

from fastinit._extras import DISTRIBUTION_NAME, install_hint, require

INSTALL_HINT = install_hint("torch", "PyTorch", "torch")
require("torch", INSTALL_HINT)

from fastinit.torch._functions import (  # noqa: E402
    calculate_gain,
    constant_,
    dirac_,
    eye_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    orthogonal_,
    sparse_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
from fastinit.torch._materialize import Rule, fill_shard, materialize, rule  # noqa: E402
from fastinit.torch._patch import is_patched, patch  # noqa: E402
from fastinit.torch._safetensors import save_safetensors  # noqa: E402

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "sparse_",
    "patch", "is_patched", "materialize", "fill_shard", "rule", "Rule", "save_safetensors",
    "DISTRIBUTION_NAME", "INSTALL_HINT",
]
