"""fastinit.torch.save_safetensors: a meta model's seed checkpoint equals materialize's weights,
tied weights stored once, streamed in pieces."""

import json
import math
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from safetensors.torch import load_file  # noqa: E402
from torch import nn  # noqa: E402

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)
        self.register_buffer("inv_freq", torch.arange(4, dtype=torch.float32),
                             persistent=False)


class LM(nn.Module):
    def __init__(self, vocab=97, d=16, layers=2, dtype=torch.float32):
        super().__init__()
        self.wte = nn.Embedding(vocab, d, padding_idx=5, dtype=dtype)
        self.blocks = nn.ModuleList(Block(d) for _ in range(layers))
        self.bn = nn.BatchNorm1d(d)
        self.conv = nn.Conv1d(d, d, 3)
        self.ortho = nn.Parameter(torch.empty(12, 20))
        self.sparse = nn.Parameter(torch.empty(30, 7))
        self.scale = nn.Parameter(torch.empty(d, dtype=torch.bfloat16))
        self.lm_head = nn.Linear(d, vocab, bias=False, dtype=dtype)
        self.lm_head.weight = self.wte.weight   # tied, as GPT-2


RULES = {
    "*.fc.weight": ft.rule("trunc_normal_", std=0.02, a=-0.04, b=0.04),
    "ortho": "orthogonal_",
    "sparse": ft.rule("sparse_", sparsity=0.3),
    "scale": ft.rule("normal_", std=0.5),
    "blocks.*.inv_freq": lambda t, seed: t.copy_(torch.arange(t.numel()) * 2.0),
}


def _bits(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _materialized(seed, **kw):
    with torch.device("meta"):
        m = LM(**kw)
    ft.materialize(m, seed, RULES)
    return m


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_round_trip_bit_identical_to_materialize(tmp_path, dtype):
    with torch.device("meta"):
        meta = LM(dtype=dtype)
    path = tmp_path / "model.safetensors"
    # small chunks: every tensor streamed in many pieces
    ft.save_safetensors(meta, path, 3, RULES, chunk_bytes=200)
    assert all(p.is_meta for p in meta.parameters())   # nothing was materialized
    ref = _materialized(3, dtype=dtype)
    sd = load_file(path)
    # tied weights stored once, under the first name, as transformers does
    assert "wte.weight" in sd and "lm_head.weight" not in sd
    # non-persistent buffers are not in a state dict
    assert not any("inv_freq" in k for k in sd)
    fresh = LM(dtype=dtype)
    res = fresh.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["lm_head.weight"] and res.unexpected_keys == []
    assert fresh.lm_head.weight is fresh.wte.weight
    ref_sd = ref.state_dict()
    for k, v in fresh.state_dict().items():
        if "inv_freq" in k:
            continue
        assert _bits(v) == _bits(ref_sd[k]), k
    assert (fresh.wte.weight[5] == 0).all()       # the padding row, as materialize zeroes it
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        assert json.loads(f.read(n))["__metadata__"] == {"format": "pt"}


def test_assign_into_a_meta_model(tmp_path):
    with torch.device("meta"):
        meta = LM()
    path = tmp_path / "m.safetensors"
    ft.save_safetensors(meta, path, 9, RULES)
    meta.load_state_dict(load_file(path), strict=False, assign=True)
    ref = _materialized(9)
    for (k, v), (_, r) in zip(meta.named_parameters(), ref.named_parameters()):
        assert _bits(v) == _bits(r), k


def test_sharded_checkpoint(tmp_path):
    with torch.device("meta"):
        meta = LM(vocab=500, d=32)
    path = tmp_path / "model.safetensors"
    written = ft.save_safetensors(meta, path, 1, RULES, max_shard_size=40_000)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(written) == len(set(index["weight_map"].values())) + 1 > 3
    sd = {}
    for f in sorted(set(index["weight_map"].values())):
        part = load_file(tmp_path / f)
        assert all(index["weight_map"][k] == f for k in part)
        sd.update(part)
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size()
                                                  for t in sd.values())
    ref = _materialized(1, vocab=500, d=32).state_dict()
    for k, v in sd.items():
        assert _bits(v) == _bits(ref[k]), k


def test_kept_storage_and_uncovered_tensors(tmp_path):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 4)
            self.free = nn.Parameter(torch.empty(2, 2, device="meta"))
            self.register_buffer("table", torch.arange(6.0, device="cpu"))

    m = M()   # on CPU: lin has storage and a default rule, table has storage and none
    with pytest.raises(ValueError, match="no rule covers 1 tensor.*'free'"):
        ft.save_safetensors(m, tmp_path / "a.safetensors", 0)
    assert os.listdir(tmp_path) == []
    path = tmp_path / "b.safetensors"
    ft.save_safetensors(m, path, 0, {"free": "zeros_"})
    sd = load_file(path)
    assert torch.equal(sd["table"], torch.arange(6.0))   # kept as it was
    ref = M()
    ft.materialize(ref, 0, {"free": "zeros_"})
    assert _bits(sd["lin.weight"]) == _bits(ref.lin.weight)
    assert math.isclose(float(sd["free"].abs().sum()), 0.0)


def test_matches_the_numpy_reference_writer(tmp_path):
    """The file is the reference writer's file of the materialized state dict (tied alias
    dropped)."""
    from safetensors.torch import save_file
    with torch.device("meta"):
        meta = LM()
    ft.save_safetensors(meta, tmp_path / "a.safetensors", 4, RULES)
    sd = {k: v.contiguous() for k, v in _materialized(4).state_dict().items()
          if k != "lm_head.weight"}
    save_file(sd, tmp_path / "b.safetensors", metadata={"format": "pt"})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()



def test_tied_embeddings_zero_every_padding_row(tmp_path):
    """One weight owned by two Embeddings with different padding_idx: both rows are zeroed, in
    the file as by materialize (fastinit.torch._materialize.padding_rows serves both)."""
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Embedding(10, 4, padding_idx=2)
            self.b = nn.Embedding(10, 4, padding_idx=-3)   # row 7
            self.b.weight = self.a.weight

    with torch.device("meta"):
        meta = Tied()
    path = tmp_path / "tied.safetensors"
    ft.save_safetensors(meta, path, 5)
    with torch.device("meta"):
        ref = Tied()
    ft.materialize(ref, 5)
    w = load_file(path)["a.weight"]
    assert _bits(w) == _bits(ref.a.weight)
    zero_rows = [i for i in range(10) if (w[i] == 0).all()]
    assert zero_rows == [2, 7]
