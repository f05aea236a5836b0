#!/usr/bin/env python3
"""Convert a Hugging Face model folder's PyTorch weights to safetensors, which is the only weight
format xfmr reads.

    python3 scripts/convert_bin_to_safetensors.py MODEL_DIR [--force]

* MODEL_DIR/pytorch_model.bin                -> MODEL_DIR/model.safetensors
* MODEL_DIR/pytorch_model.bin.index.json     -> one .safetensors file per shard plus
  (sharded checkpoints)                         MODEL_DIR/model.safetensors.index.json

The checkpoint is read with torch.load(..., map_location="cpu", weights_only=True), so no code in
the pickle is run. Tensors that share storage (tied weights, e.g. an embedding matrix reused by a
decoder head) are cloned, because safetensors refuses to save aliased tensors; every name is kept.
Each written file is read back and compared with the original tensors.

Needs the `torch` and `safetensors` packages (pip install torch safetensors).
"""

import argparse
import json
import os
import sys

# Dtypes the C reader accepts (src/io/safetensors.c); others are converted but warned about.
XF_DTYPES = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"}


def fail(msg):
    print(f"convert_bin_to_safetensors: error: {msg}", file=sys.stderr)
    sys.exit(1)


def load_state_dict(torch, path):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - report any load failure with the file name
        fail(f"{path}: cannot load with torch.load(weights_only=True): {e}")
    # Some checkpoints wrap the weights; Hugging Face ones are a plain name -> tensor dict.
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        fail(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    out = {}
    for name, t in obj.items():
        if not isinstance(name, str):
            fail(f"{path}: key {name!r} is not a string")
        if not isinstance(t, torch.Tensor):
            fail(f"{path}: entry {name!r} is a {type(t).__name__}, not a tensor")
        out[name] = t
    return out


def storage_key(t):
    try:
        s = t.untyped_storage()
    except AttributeError:  # torch < 2.0
        s = t.storage().untyped()
    return (t.device.type, s.data_ptr(), s.nbytes())


def make_saveable(tensors):
    """Clone tensors that share storage and make every tensor contiguous. Returns (dict, cloned)."""
    groups = {}
    for name, t in tensors.items():
        if t.numel() == 0:
            continue
        groups.setdefault(storage_key(t), []).append(name)
    shared = {n for names in groups.values() if len(names) > 1 for n in names}
    out, cloned = {}, []
    for name, t in tensors.items():
        if name in shared:
            t = t.detach().clone().contiguous()
            cloned.append(name)
        else:
            t = t.detach().contiguous()
        out[name] = t
    return out, sorted(cloned)


def st_dtype_name(t):
    import torch

    names = {
        torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
        torch.uint8: "U8", torch.bool: "BOOL",
    }
    return names.get(t.dtype, str(t.dtype))


def convert_file(torch, save_file, load_file, src, dst, force):
    if os.path.exists(dst) and not force:
        fail(f"{dst} already exists (use --force to overwrite)")
    print(f"converting {src}")
    tensors = load_state_dict(torch, src)
    saveable, cloned = make_saveable(tensors)
    for name in cloned:
        print(f"  cloned shared tensor {name}")
    tmp = dst + ".tmp"
    save_file(saveable, tmp, metadata={"format": "pt"})
    # Read back and compare before putting the file in place.
    back = load_file(tmp)
    if set(back) != set(saveable):
        os.remove(tmp)
        fail(f"{dst}: written file has different tensor names")
    for name, t in saveable.items():
        if back[name].dtype != t.dtype or back[name].shape != t.shape or not torch.equal(back[name], t):
            os.remove(tmp)
            fail(f"{dst}: tensor {name!r} differs after writing")
    os.replace(tmp, dst)
    dtypes = sorted({st_dtype_name(t) for t in saveable.values()})
    odd = [d for d in dtypes if d not in XF_DTYPES]
    nbytes = sum(t.numel() * t.element_size() for t in saveable.values())
    print(f"wrote {dst}: {len(saveable)} tensors, {nbytes} bytes of data, dtypes {','.join(dtypes)}"
          f"{f', {len(cloned)} shared tensors cloned' if cloned else ''}")
    if odd:
        print(f"  warning: xfmr cannot read dtypes {','.join(odd)}", file=sys.stderr)
    return saveable


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", help="Hugging Face model folder holding pytorch_model.bin")
    ap.add_argument("--force", action="store_true", help="overwrite existing .safetensors files")
    args = ap.parse_args()

    d = args.model_dir
    if not os.path.isdir(d):
        fail(f"{d}: not a directory")
    single = os.path.join(d, "pytorch_model.bin")
    index = os.path.join(d, "pytorch_model.bin.index.json")
    if not os.path.isfile(single) and not os.path.isfile(index):
        fail(f"{d}: no pytorch_model.bin or pytorch_model.bin.index.json")

    try:
        import torch
        from safetensors.torch import load_file, save_file
    except ImportError as e:
        fail(f"needs the torch and safetensors packages ({e}); pip install torch safetensors")

    if os.path.isfile(single):
        convert_file(torch, save_file, load_file, single, os.path.join(d, "model.safetensors"), args.force)
        print("done: xfmr will now load model.safetensors (pytorch_model.bin can be deleted)")
        return

    # Sharded checkpoint: convert shard by shard and write a matching safetensors index.
    with open(index, encoding="utf-8") as f:
        idx = json.load(f)
    wmap = idx.get("weight_map")
    if not isinstance(wmap, dict) or not wmap:
        fail(f"{index}: no \"weight_map\" object")
    shards = sorted(set(wmap.values()))
    renamed = {}
    for shard in shards:
        if not isinstance(shard, str) or "/" in shard or "\\" in shard or ".." in shard:
            fail(f"{index}: bad shard name {shard!r}")
        base = shard[:-4] if shard.endswith(".bin") else shard
        if base.startswith("pytorch_model"):
            base = "model" + base[len("pytorch_model"):]
        renamed[shard] = base + ".safetensors"
    new_map, total = {}, 0
    for shard in shards:
        saved = convert_file(torch, save_file, load_file, os.path.join(d, shard),
                             os.path.join(d, renamed[shard]), args.force)
        for name, t in saved.items():
            new_map[name] = renamed[shard]
            total += t.numel() * t.element_size()
    missing = sorted(set(wmap) - set(new_map))
    if missing:
        fail(f"{index}: tensors listed but not found in any shard: {', '.join(missing[:5])}")
    out_index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(out_index) and not args.force:
        fail(f"{out_index} already exists (use --force to overwrite)")
    with open(out_index, "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(new_map.items()))}, f, indent=2)
        f.write("\n")
    print(f"wrote {out_index}: {len(new_map)} tensors in {len(shards)} shards")
    print("done: xfmr will now load the .safetensors shards")


if __name__ == "__main__":
    main()
