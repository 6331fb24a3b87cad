"""asv suite for seed checkpoints: fastinit.save_safetensors of a GPT-style spec (time and peak
memory), against a plain sequential write of the same bytes on the same filesystem."""

import os
import shutil
import tempfile

import fastinit


def _spec(layers, d, vocab):
    """A GPT-2-style spec (the shape of fastinit/specs/gpt_1p3b.json), bfloat16."""
    normal = {"torch": "normal_", "std": 0.02}
    t = {"wte.weight": {"shape": [vocab, d], "initializer": normal}}
    for i in range(layers):
        h = f"h.{i}."
        t[h + "ln_1.weight"] = {"shape": [d], "initializer": "ones"}
        t[h + "attn.c_attn.weight"] = {"shape": [d, 3 * d], "initializer": normal}
        t[h + "attn.c_proj.weight"] = {"shape": [d, d], "initializer": normal}
        t[h + "mlp.c_fc.weight"] = {"shape": [d, 4 * d], "initializer": normal}
        t[h + "mlp.c_proj.weight"] = {"shape": [4 * d, d], "initializer": normal}
        t[h + "mlp.c_fc.bias"] = {"shape": [4 * d], "initializer": "zeros"}
    return {"seed": 0, "dtype": "bfloat16", "tensors": t}


# (layers, d, vocab): 7.3 MB and 436 MB of bfloat16
SIZES = {"small": (2, 256, 8192), "medium": (4, 2048, 8192)}


class SaveSafetensors:
    params = (list(SIZES), ["fastinit", "sequential write"])
    param_names = ["model", "writer"]
    timeout = 600

    def setup(self, model, writer):
        self.dir = tempfile.mkdtemp(prefix="asv-st-", dir=os.getcwd())
        self.path = os.path.join(self.dir, "model.safetensors")
        self.spec = fastinit.load_spec(_spec(*SIZES[model]))
        self.nbytes = self.spec.nbytes
        self.buf = os.urandom(min(self.nbytes, 64 * 2**20))
        fastinit.save_safetensors(self.path, fastinit.load_spec(_spec(1, 64, 64)), force=True)

    def teardown(self, model, writer):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, writer):
        if writer == "fastinit":
            fastinit.save_safetensors(self.path, self.spec, force=True, fsync=True)
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            left = self.nbytes
            mv = memoryview(self.buf)
            while left:
                left -= os.write(fd, mv[:min(left, len(mv))])
            os.fsync(fd)
        finally:
            os.close(fd)

    def time_save(self, model, writer):
        self._run(writer)

    def peakmem_save(self, model, writer):
        self._run(writer)
