"""fastinit.torch on models: patch(), materialize by name, fill_shard and DTensor shards."""

import functools
import math
import re
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fastinit.torch needs torch (pip install torch)")
stats = pytest.importorskip("scipy.stats")

import fastinit  # noqa: E402
import fastinit.torch as ft  # noqa: E402
import torch.nn.init as ti  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.benchmarks._helpers import gpt_class  # noqa: E402

INIT_NAMES = ["uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
              "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
              "kaiming_normal_", "orthogonal_", "sparse_"]


# ---- a small GPT skeleton -------------------------------------------------------------------


_GPT = gpt_class()


def GPT(vocab=512, d=64, layers=2, extra_first=False, rename=False):
    """The shared skeleton, small; `extra_first` registers an unrelated module first, `rename`
    moves ln_f to final_norm."""
    m = _GPT(vocab, d, layers, 128, padding_idx=3, first=nn.Linear(d, d) if extra_first else None)
    if rename:
        m.final_norm = m.ln_f
        del m.ln_f
    return m


def meta(cls=GPT, **kw):
    with torch.device("meta"):
        return cls(**kw)


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---- patch() --------------------------------------------------------------------------------


def _bindings():
    mods = [ti, torch.nn.modules.activation, torch.nn.modules.transformer]
    return {(m.__name__, n): getattr(m, n) for m in mods for n in INIT_NAMES if hasattr(m, n)}


def test_patch_routes_and_restores():
    before = _bindings()
    with ft.patch() as p:
        assert ft.is_patched() and isinstance(p, ft.patch)
        during = _bindings()
        assert all(getattr(f, "__fastinit_routed__", None) for f in during.values())
        assert torch.nn.modules.activation.xavier_uniform_.__fastinit_routed__ == "xavier_uniform_"
        torch.manual_seed(0)
        a = nn.Linear(64, 32)
        torch.manual_seed(0)
        b = nn.Linear(64, 32)
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not ft.is_patched()
    assert _bindings() == before
    # the values are fastinit's: seeds drawn from torch's default generator, one per call
    torch.manual_seed(0)
    s1 = int(torch.randint(0, 2**63 - 1, ()).item())
    s2 = int(torch.randint(0, 2**63 - 1, ()).item())
    w = ft.kaiming_uniform_(torch.empty(32, 64), a=math.sqrt(5), seed=s1)
    bias = ft.uniform_(torch.empty(32), -1 / 8, 1 / 8, seed=s2)
    assert torch.equal(a.weight.detach(), w) and torch.equal(a.bias.detach(), bias)


def test_patch_reaches_multihead_attention_and_conv():
    with ft.patch():
        torch.manual_seed(1)
        mha = nn.MultiheadAttention(32, 4)
        conv = nn.Conv2d(8, 16, 3).to(memory_format=torch.channels_last)
        torch.manual_seed(2)
        conv.reset_parameters()     # non-contiguous: torch's temporary, then our fill
    torch.manual_seed(1)
    seeds = [int(torch.randint(0, 2**63 - 1, ()).item()) for _ in range(3)]
    # out_proj (a Linear: kaiming + bias) draws twice, then in_proj's xavier_uniform_
    in_proj = ft.xavier_uniform_(torch.empty(96, 32), seed=seeds[2])
    assert torch.equal(mha.in_proj_weight.detach(), in_proj)
    assert (mha.in_proj_bias == 0).all() and (mha.out_proj.bias == 0).all()
    torch.manual_seed(2)
    s = int(torch.randint(0, 2**63 - 1, ()).item())
    assert not conv.weight.is_contiguous()
    ref = ft.kaiming_uniform_(torch.empty(16, 8, 3, 3), a=math.sqrt(5), seed=s)
    assert torch.equal(conv.weight.detach(), ref)


def test_patch_restores_after_exception_and_nests():
    before = _bindings()
    with pytest.raises(KeyError):
        with ft.patch():
            with ft.patch():
                assert ft.is_patched()
            assert ft.is_patched()            # the inner exit keeps the outer patch
            raise KeyError("boom")
    assert not ft.is_patched() and _bindings() == before


def test_patch_as_decorator_and_extra_modules():
    import types
    user = types.ModuleType("user_code")
    user.normal_ = ti.normal_                 # `from torch.nn.init import normal_` before patch
    user.unrelated = len

    @ft.patch(modules=[user])
    def build():
        return user.normal_.__fastinit_routed__, nn.init.normal_.__fastinit_routed__

    assert build() == ("normal_", "normal_")
    assert user.normal_ is ti.normal_ and user.unrelated is len and not ft.is_patched()


def test_patch_leaves_other_modules_alone():
    tensor_uniform = torch.Tensor.uniform_
    gain = ti.calculate_gain
    linear_init = torch.nn.modules.linear.init
    private = ti._calculate_fan_in_and_fan_out
    with ft.patch():
        assert torch.Tensor.uniform_ is tensor_uniform
        assert ti.calculate_gain is gain and ti._calculate_fan_in_and_fan_out is private
        assert torch.nn.modules.linear.init is ti       # the module object itself is kept
        assert torch.nn.functional.linear is not None
        assert ft.normal_.__module__ == "fastinit.torch._functions"
    assert ti.uniform is not None                        # deprecated aliases untouched


def test_patch_falls_back_to_torch_for_what_fastinit_does_not_fill():
    with ft.patch():
        with torch.device("meta"):
            m = GPT()                                     # meta: torch's own no-ops
        assert m.wte.weight.is_meta
        t = torch.zeros(4, 4, dtype=torch.complex64)
        nn.init.normal_(t)                                # complex: torch's normal_
        assert t.abs().sum() > 0
        with pytest.raises(NotImplementedError, match="not implemented for 'Int'"):
            nn.init.uniform_(torch.zeros(3, dtype=torch.int32))
        p = nn.Parameter(torch.zeros(3))
        p._is_hf_initialized = True
        nn.init.normal_(p)                                # transformers' marker: left alone
        assert (p == 0).all()


def test_patch_threads_share_one_global_patch():
    entered, release = threading.Event(), threading.Event()
    seen = []

    def worker():
        with ft.patch():
            entered.set()
            release.wait(5)
            seen.append(ft.is_patched())

    th = threading.Thread(target=worker)
    th.start()
    entered.wait(5)
    with ft.patch():
        pass                      # this thread's exit must not unpatch the other's region
    assert ft.is_patched()
    release.set()
    th.join(5)
    assert seen == [True] and not ft.is_patched()


def test_patched_model_matches_stock_distributions():
    with ft.patch():
        torch.manual_seed(0)
        ours = GPT(vocab=4096, d=128)
    torch.manual_seed(0)
    theirs = GPT(vocab=4096, d=128)
    for name, p in ours.named_parameters():
        q = dict(theirs.named_parameters())[name]
        a, b = p.detach().double().flatten().numpy(), q.detach().double().flatten().numpy()
        if a.std() == 0:
            assert np.array_equal(a, b), name
        else:
            assert stats.ks_2samp(a, b).pvalue > 1e-4, name


# ---- materialize ----------------------------------------------------------------------------


def test_materialize_per_tensor_rules_and_seeds():
    m = meta()
    assert ft.materialize(m, seed=7) == []
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        assert t.device.type == "cpu" and not t.is_meta, name
    s = functools.partial(fastinit.seed_for_name, 7)
    w = m.blocks[1].fc.weight
    assert torch.equal(w.detach(), ft.kaiming_uniform_(torch.empty(256, 64), a=math.sqrt(5),
                                                       seed=s("blocks.1.fc.weight")))
    b = m.blocks[1].fc.bias
    assert torch.equal(b.detach(), ft.uniform_(torch.empty(256), -1 / 8, 1 / 8,
                                               seed=s("blocks.1.fc.bias")))
    emb = ft.normal_(torch.empty(512, 64), seed=s("wte.weight"))
    emb[3] = 0
    assert torch.equal(m.wte.weight.detach(), emb)
    assert (m.blocks[0].ln1.weight == 1).all() and (m.blocks[0].ln1.bias == 0).all()
    assert m.wte.weight.requires_grad and m.wte.weight.is_leaf
    assert isinstance(m.wte.weight, nn.Parameter)


def test_materialize_ties_stay_tied_and_init_once():
    m = meta()
    ft.materialize(m, seed=0)
    assert m.lm_head.weight is m.wte.weight
    assert (m.wte.weight[3] == 0).all()                  # padding row of the embedding
    names = [n for n, _ in m.named_parameters()]
    assert "lm_head.weight" not in names                 # one tensor, its first name wins
    tied = meta()
    tied.to_empty(device="cpu")
    assert tied.lm_head.weight is not tied.wte.weight    # (to_empty unties: we do not use it)


def test_materialize_is_order_and_neighbour_independent():
    base = state(_mat(meta()))
    extra = state(_mat(meta(extra_first=True)))
    renamed = state(_mat(meta(rename=True)))
    deeper = state(_mat(meta(layers=3)))
    for k, v in base.items():
        assert torch.equal(extra[k], v), k
        assert torch.equal(deeper[k], v), k
        if not k.startswith("ln_f"):
            assert torch.equal(renamed[k], v), k
    assert torch.equal(renamed["final_norm.weight"], base["ln_f.weight"])
    other_seed = state(_mat(meta(), seed=2))
    assert not torch.equal(other_seed["blocks.0.qkv.weight"], base["blocks.0.qkv.weight"])


def _mat(model, seed=1, **kw):
    ft.materialize(model, seed, **kw)
    return model


def test_materialize_matches_stock_module_distributions():
    m = _mat(meta(vocab=2048, d=128))
    torch.manual_seed(0)
    stock = GPT(vocab=2048, d=128)
    sp = dict(stock.named_parameters())
    for name, p in m.named_parameters():
        a = p.detach().double().flatten().numpy()
        b = sp[name].detach().double().flatten().numpy()
        if b.std() == 0:
            assert np.array_equal(a, b), name
        else:
            assert stats.ks_2samp(a, b).pvalue > 1e-4, name


class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3)
        self.convt = nn.ConvTranspose1d(4, 6, 5, groups=2)
        self.bn = nn.BatchNorm2d(8)
        self.gn = nn.GroupNorm(2, 8)
        self.rms = nn.RMSNorm(8)
        self.mha = nn.MultiheadAttention(16, 2, add_bias_kv=True)
        self.mha_kv = nn.MultiheadAttention(16, 2, kdim=8, vdim=12, bias=False)
        self.bil = nn.Bilinear(3, 4, 5)
        self.prelu = nn.PReLU(3, init=0.1)
        self.lstm = nn.LSTM(6, 7, num_layers=2)
        self.cell = nn.GRUCell(3, 5)
        self.bag = nn.EmbeddingBag(10, 4, padding_idx=0)
        self.tr = nn.Transformer(16, 2, 1, 1, 32)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
def test_materialize_torch_defaults_zoo():
    torch.manual_seed(0)
    stock = Zoo()
    m = _mat(meta(Zoo))
    sd, ref = m.state_dict(), stock.state_dict()
    assert sd.keys() == ref.keys()
    for k, v in sd.items():
        r = ref[k]
        assert v.dtype == r.dtype and v.shape == r.shape, k
        if r.dtype == torch.int64 or r.double().std() == 0 or r.numel() < 2:
            assert torch.equal(v, r), k               # constants are torch's exactly
        elif r.numel() >= 200:
            a, b = v.double().flatten().numpy(), r.double().flatten().numpy()
            assert stats.ks_2samp(a, b).pvalue > 1e-4, k
        else:
            assert 0 < v.abs().max().item() <= 3 * r.abs().max().item(), k
    assert (m.mha.out_proj.bias == 0).all() and (m.mha.in_proj_bias == 0).all()
    assert m.bn.running_var.eq(1).all() and m.bn.num_batches_tracked.item() == 0
    assert torch.allclose(m.prelu.weight, torch.full((3,), 0.1))
    assert (m.bag.weight[0] == 0).all()
    # Transformer's reset overrides its children: every matrix is xavier_uniform_
    w = m.tr.encoder.layers[0].linear1.weight
    bound = math.sqrt(6 / (16 + 32))
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound


def test_materialize_user_rules():
    rules = {
        "blocks.*.qkv.weight": ft.rule("trunc_normal_", std=0.02, a=-0.04, b=0.04),
        re.compile(r"blocks\.\d+\.(fc|out)\.bias"): "zeros_",
        "blocks.1.proj.weight": functools.partial(ti.normal_, std=0.5),
        "wpe.weight": fastinit.RandomNormal(stddev=0.01, seed=123),   # its seed is ignored
        "*.ln1.weight": lambda t, seed: t.fill_(2.0),
        "lm_head.weight": "zeros_",                                      # an alias of wte
    }
    m = _mat(meta(), seed=3, rules=rules)
    s = functools.partial(fastinit.seed_for_name, 3)
    q = m.blocks[0].qkv.weight.detach()
    assert q.abs().max() <= 0.04 and torch.equal(
        q, ft.trunc_normal_(torch.empty(192, 64), std=0.02, a=-0.04, b=0.04,
                            seed=s("blocks.0.qkv.weight")))
    assert (m.blocks[1].fc.bias == 0).all() and (m.blocks[0].out.bias == 0).all()
    assert (m.blocks[0].qkv.bias != 0).any()
    assert torch.equal(m.blocks[1].proj.weight.detach(),
                       ft.normal_(torch.empty(64, 64), std=0.5, seed=s("blocks.1.proj.weight")))
    ref = fastinit.RandomNormal(stddev=0.01, seed=s("wpe.weight"))((128, 64))
    assert m.wpe.weight.detach().numpy().tobytes() == ref.tobytes()
    assert (m.blocks[1].ln1.weight == 2).all()
    assert (m.wte.weight == 0).all()              # the rule on the alias covers the tie
    with pytest.raises(TypeError, match="Rule patterns"):
        ft.materialize(meta(), 0, rules={3: "zeros_"})
    with pytest.raises(TypeError, match="unexpected keyword"):
        ft.rule("normal_", stdev=1.0)
    with pytest.raises(ValueError, match="Unknown torch.nn.init function"):
        ft.materialize(meta(), 0, rules={"*": "gelu_"})


class WithCaches(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.pos = nn.Parameter(torch.empty(10, 4))
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, 4, 2) / 4)),
                             persistent=False)
        self.register_buffer("kept", torch.arange(3.0, device="cpu"))


def test_materialize_uncovered_are_reported_never_garbage():
    m = meta(WithCaches)
    assert m.kept.device.type == "cpu"
    with pytest.raises(ValueError, match=r"no rule covers 2 tensor\(s\).*'pos' \(parameter"
                                         r".*'inv_freq' \(non-persistent buffer"):
        ft.materialize(m, 0)
    assert m.lin.weight.is_meta                   # raised before allocating anything
    left = ft.materialize(m, 0, strict=False)
    assert left == ["pos", "inv_freq"]
    assert m.pos.is_meta and m.inv_freq.is_meta and not m.lin.weight.is_meta
    assert torch.equal(m.kept, torch.arange(3.0))  # a tensor with storage is kept
    m2 = meta(WithCaches)
    ft.materialize(m2, 0, rules={
        "pos": "normal_",
        "inv_freq": lambda t, seed: t.copy_(1.0 / (10000 ** (torch.arange(0, 4, 2) / 4))),
    })
    assert torch.allclose(m2.inv_freq, torch.tensor([1.0, 0.01]))


def test_materialize_dtypes_and_errors_before_work():
    with torch.device("meta"):
        m = GPT().to(torch.bfloat16)
    ft.materialize(m, 5)
    w = m.blocks[0].fc.weight
    assert w.dtype == torch.bfloat16
    ref = ft.kaiming_uniform_(torch.empty(256, 64, dtype=torch.bfloat16), a=math.sqrt(5),
                              seed=fastinit.seed_for_name(5, "blocks.0.fc.weight"))
    assert torch.equal(w.detach().view(torch.int16), ref.view(torch.int16))
    m = meta()
    with pytest.raises(RuntimeError, match="from=1 > to=0"):
        ft.materialize(m, 0, rules={"blocks.1.*": ft.rule("uniform_", a=1.0, b=0.0)})
    assert all(p.is_meta for p in m.parameters())
    with pytest.raises((TypeError, ValueError), match="seed"):
        ft.materialize(meta(), -1)
    lazy = nn.LazyLinear(4)
    with pytest.raises(ValueError, match="lazy"):
        ft.materialize(lazy, 0)


def test_materialize_reinitializes_real_modules_in_place():
    torch.manual_seed(0)
    real = GPT()
    ptr = real.blocks[0].fc.weight.data_ptr()
    ft.materialize(real, 1)
    assert real.blocks[0].fc.weight.data_ptr() == ptr
    fresh = _mat(meta())
    for (k, v), (k2, v2) in zip(state(real).items(), state(fresh).items()):
        assert k == k2 and torch.equal(v, v2), k


# ---- fill_shard -----------------------------------------------------------------------------


SHARD_RULES = [
    "kaiming_uniform_", ft.rule("trunc_normal_", std=0.02, a=-0.03, b=0.05),
    ft.rule("normal_", mean=1.0, std=0.1), ft.rule("sparse_", sparsity=0.3),
    "eye_", ft.rule("uniform_", a=-2.0, b=2.0), functools.partial(ti.xavier_normal_, gain=2.0),
    fastinit.HeNormal(), fastinit.Constant(0.5), "zeros_",
]


def _pieces(shape, kind):
    r, c = shape
    if kind == "rows":
        return [((a, 0), (b - a, c)) for a, b in ((0, 7), (7, 20), (20, r))]
    if kind == "cols":
        return [((0, a), (r, b - a)) for a, b in ((0, 5), (5, 6), (6, c))]
    return [((a, b), (min(r, a + 9) - a, min(c, b + 4) - b))
            for a in range(0, r, 9) for b in range(0, c, 4)]


@pytest.mark.parametrize("init_rule", SHARD_RULES, ids=repr)
@pytest.mark.parametrize("kind", ["rows", "cols", "blocks"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_shards_concatenate_to_the_full_tensor(init_rule, kind, dtype):
    shape = (37, 23)
    full = ft.fill_shard(torch.empty(shape, dtype=dtype), init_rule, shape, (0, 0), seed=11)
    out = torch.full(shape, float("nan"), dtype=dtype)
    for off, local in _pieces(shape, kind):
        piece = torch.empty(local, dtype=dtype)
        ft.fill_shard(piece, init_rule, shape, off, seed=11)
        out[off[0]:off[0] + local[0], off[1]:off[1] + local[1]] = piece
    assert torch.equal(out.view(torch.int16) if dtype == torch.bfloat16 else out,
                       full.view(torch.int16) if dtype == torch.bfloat16 else full)


def test_fill_shard_equals_the_function_and_other_layouts():
    shape = (64, 8, 3, 3)
    full = ft.kaiming_normal_(torch.empty(shape), mode="fan_out", seed=4)
    piece = torch.empty(16, 8, 3, 1)
    ft.fill_shard(piece, ft.rule("kaiming_normal_", mode="fan_out"), shape, (32, 0, 0, 2),
                  seed=4)
    assert torch.equal(piece, full[32:48, :, :, 2:3])     # fans from the global shape
    arr = np.empty((5, 8, 3, 3), np.float32)              # numpy outputs too
    ft.fill_shard(arr, ft.rule("kaiming_normal_", mode="fan_out"), shape, (1, 0, 0, 0), seed=4)
    assert arr.tobytes() == full[1:6].numpy().tobytes()
    import ml_dtypes
    arr = np.empty((4, 8, 3, 3), ml_dtypes.bfloat16)
    ft.fill_shard(arr, "dirac_", shape, (8, 0, 0, 0), seed=0)
    assert torch.equal(torch.from_numpy(arr.astype(np.float32)),
                       ti.dirac_(torch.empty(shape))[8:12])
    strided = torch.zeros(16, 12)[:, ::2]                  # non-contiguous piece
    ft.fill_shard(strided, "orthogonal_", (16, 6), (0, 0), seed=1)
    assert torch.equal(strided, ft.orthogonal_(torch.empty(16, 6), seed=1))


def test_fill_shard_errors():
    with pytest.raises(ValueError, match="whole 16 x 6 matrix.*allow_in_memory"):
        ft.fill_shard(torch.empty(4, 6), "orthogonal_", (16, 6), (4, 0), seed=1)
    part = ft.fill_shard(torch.empty(4, 6), "orthogonal_", (16, 6), (4, 0), seed=1,
                         allow_in_memory=True)
    assert torch.equal(part, ft.orthogonal_(torch.empty(16, 6), seed=1)[4:8])
    with pytest.raises(ValueError, match="does not fit"):
        ft.fill_shard(torch.empty(4, 6), "normal_", (16, 6), (14, 0), seed=1)
    with pytest.raises(ValueError, match="one entry per axis"):
        ft.fill_shard(torch.empty(4, 6), "normal_", (16, 6), (0,), seed=1)
    with pytest.raises(TypeError):
        ft.fill_shard(torch.empty(4, 6), "normal_", (16, 6), (0, 0))      # seed is required
    with pytest.raises(TypeError, match="callable fn"):
        ft.materialize(meta(), 0, rules={"*": 5})
    with pytest.raises(TypeError, match="A rule is"):
        ft.fill_shard(torch.empty(4, 6), lambda t, s: t, (16, 6), (0, 0), seed=1)


def test_big_column_shard_memory_is_the_piece():
    shape = (1 << 20, 4096)                      # 16 GiB in float32: never allocated
    piece = torch.empty(1 << 20, 2)
    ft.fill_shard(piece, "xavier_uniform_", shape, (0, 1000), seed=0)
    row = torch.empty(1, 4096)
    ft.fill_shard(row, "xavier_uniform_", shape, (12345, 0), seed=0)
    assert piece[12345, 0] == row[0, 1000] and piece[12345, 1] == row[0, 1001]


# ---- DTensor (a fake process group: every rank's local shard in one process) ----------------


@pytest.fixture
def fake_ranks():
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    from torch.testing._internal.distributed.fake_pg import FakeStore

    def run(world, fn):
        outs = []
        for rank in range(world):
            dist.init_process_group("fake", rank=rank, world_size=world, store=FakeStore())
            try:
                outs.append(fn(rank))
            finally:
                dist.destroy_process_group()
        return outs
    return run


@pytest.mark.parametrize("mesh_shape,placements", [
    ((4,), ("S0",)), ((4,), ("S1",)), ((2, 2), ("S0", "S1")), ((2, 2), ("S1", "R")),
    ((3,), ("S0",)),
])
def test_dtensor_shards_equal_the_single_device_tensor(fake_ranks, mesh_shape, placements):
    from torch.distributed.tensor import Replicate, Shard, empty, init_device_mesh
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    pl = [Shard(int(p[1])) if p[0] == "S" else Replicate() for p in placements]
    shape = (10, 7)
    world = math.prod(mesh_shape)
    full_fn = ft.trunc_normal_(torch.empty(shape), std=0.02, seed=9)
    full_sh = ft.fill_shard(torch.empty(shape), ft.rule("sparse_", sparsity=0.4), shape, (0, 0),
                            seed=9)

    def on_rank(rank):
        mesh = init_device_mesh("cpu", mesh_shape)
        got = []
        for fill in (lambda d: ft.trunc_normal_(d, std=0.02, seed=9),
                     lambda d: ft.fill_shard(d, ft.rule("sparse_", sparsity=0.4), seed=9)):
            d = empty(*shape, device_mesh=mesh, placements=pl)
            fill(d)
            _, off = compute_local_shape_and_global_offset(shape, mesh, pl)
            got.append((tuple(off), d.to_local().clone()))
        return got

    per_rank = fake_ranks(world, on_rank)
    for k, full in enumerate((full_fn, full_sh)):
        out = torch.full(shape, float("nan"))
        for got in per_rank:
            off, local = got[k]
            sl = tuple(slice(o, o + n) for o, n in zip(off, local.shape))
            if local.numel():
                assert torch.equal(full[sl], local)
            out[sl] = local
        assert torch.equal(out, full)


def test_dtensor_model_materialize(fake_ranks):
    from torch.distributed.tensor import DTensor, Shard, distribute_tensor, init_device_mesh
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    ref = state(_mat(meta(), seed=5))

    def on_rank(rank):
        mesh = init_device_mesh("cpu", (2,))
        torch.manual_seed(rank)                      # the ranks start from different values
        m = GPT()
        for mod in m.modules():
            for n, p in list(mod.named_parameters(recurse=False)):
                if p.dim() == 2:
                    d = distribute_tensor(p.detach(), mesh, [Shard(rank % 2)], src_data_rank=None)
                    setattr(mod, n, nn.Parameter(d))
        m.lm_head.weight = m.wte.weight
        ft.materialize(m, 5)
        out = {}
        for k, v in m.state_dict().items():
            if isinstance(v, DTensor):
                _, off = compute_local_shape_and_global_offset(v.shape, v.device_mesh,
                                                               v.placements)
                out[k] = (tuple(off), v.to_local().clone())
            else:
                out[k] = ((0,) * v.dim(), v.clone())
        return out

    for got in fake_ranks(2, on_rank):
        assert got.keys() == ref.keys()
        for k, (off, local) in got.items():
            sl = tuple(slice(o, o + n) for o, n in zip(off, local.shape))
            assert torch.equal(local, ref[k][sl]), k
