# Prototype: training-free token merging (ToMe-style bipartite matching) on all-MiniLM-L6-v2,
# to choose a design before writing it in C. Not part of the repo.
import json, math, sys, torch, numpy as np
from transformers import AutoTokenizer, AutoModel
torch.set_grad_enabled(False); torch.set_num_threads(2)
M = "/work/wt-me7/models/all-MiniLM-L6-v2"
tok = AutoTokenizer.from_pretrained(M); bert = AutoModel.from_pretrained(M).eval()
import os
pairs = [json.loads(l) for l in open(os.environ.get("PAIRS","/work/wt-me7/.cache/eval/adaptive/pairs_128_256.jsonl"))]
Hh = 12; dh = 32
def layer_fwd(Lr, x, bias, want_k=False, mid=None):
    a = Lr.attention.self
    n = x.shape[0]
    q = a.query(x).view(n, Hh, dh).transpose(0, 1); k = a.key(x).view(n, Hh, dh).transpose(0, 1); v = a.value(x).view(n, Hh, dh).transpose(0, 1)
    s = q @ k.transpose(1, 2) / math.sqrt(dh) + bias
    p = s.softmax(-1); ctx = (p @ v).transpose(0, 1).reshape(n, Hh * dh)
    x = Lr.attention.output.LayerNorm(x + Lr.attention.output.dense(ctx))
    if mid is not None: x = mid(x)
    y = Lr.output.LayerNorm(x + Lr.output.dense(Lr.intermediate(x)))
    return y, k.transpose(0, 1).mean(1) if want_k else None
def merge(x, size, metric, r, protect):
    n = x.shape[0]
    m = metric / metric.norm(dim=-1, keepdim=True)
    ia = torch.arange(0, n, 2); ib = torch.arange(1, n, 2)
    sc = m[ia] @ m[ib].T
    for p in protect:
        if p % 2 == 0: sc[p // 2, :] = -math.inf
        else: sc[:, p // 2] = -math.inf
    best, bi = sc.max(-1)
    order = best.argsort(descending=True)
    r = min(r, int((best > -math.inf).sum()))
    src = order[:r]; dst = bi[src]
    xs = x * size[:, None]
    xb = xs[ib].clone(); sb = size[ib].clone()
    xb.index_add_(0, dst, xs[ia[src]]); sb.index_add_(0, dst, size[ia[src]])
    keep_a = torch.ones(len(ia), dtype=torch.bool); keep_a[src] = False
    # rebuild in original order: surviving a's and all b's
    newidx = torch.cat([ia[keep_a], ib]); xn = torch.cat([xs[ia[keep_a]], xb]); sn = torch.cat([size[ia[keep_a]], sb])
    order2 = newidx.argsort(); xn = xn[order2]; sn = sn[order2]
    # map: old index -> new index
    oldpos = torch.empty(n, dtype=torch.long)
    new_of_old = torch.empty(n, dtype=torch.long)
    rank = torch.empty(len(newidx), dtype=torch.long); rank[order2] = torch.arange(len(newidx))
    new_of_old[newidx] = rank
    new_of_old[ia[src]] = new_of_old[ib[dst]]
    return xn / sn[:, None], sn, new_of_old
def embed(text, share, metric="x", prop=True, rejoin=False, stats=None, where="post"):
    enc = tok(text, truncation=True, max_length=256, return_tensors="pt")
    x = bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])[0]
    n0 = x.shape[0]
    st = {"size": torch.ones(n0), "grp": torch.arange(n0)}
    L = len(bert.encoder.layer)
    def do_merge(x, l):
        if share is None or n0 < 64: return x
        target = max(64, math.ceil(share[l] * n0 - 1e-4)); r = x.shape[0] - target
        if r <= 0: return x
        x, st["size"], m = merge(x, st["size"], x, r, [0, x.shape[0] - 1])
        st["grp"] = m[st["grp"]]
        return x
    for l, Lr in enumerate(bert.encoder.layer):
        bias = torch.log(st["size"])[None, None, :] if prop else 0.0
        na = x.shape[0]
        mid = (lambda xx, l=l: do_merge(xx, l)) if where == "mid" and l + 1 < L else None
        x, _ = layer_fwd(Lr, x, bias, mid=mid)
        if stats is not None: stats[0] += 0.38 * na + 0.62 * x.shape[0] if where == "mid" else na; stats[1] += n0
        if where == "post" and l + 1 < L: x = do_merge(x, l)
    e = (x * st["size"][:, None]).sum(0) / st["size"].sum()
    return torch.nn.functional.normalize(e, dim=0)
def qembed(text):
    return embed(text, None)
Q = torch.stack([qembed(p["query"]) for p in pairs])
def mrr(D):
    S = Q @ D.T; g = S.diag()[:, None]; rank = (S > g).sum(1) + 1
    return float(torch.where(rank <= 10, 1.0 / rank, torch.zeros_like(rank, dtype=torch.float)).mean())
D0 = torch.stack([embed(p["doc"], None) for p in pairs]); base = mrr(D0)
print("dense MRR@10 %.4f" % base, flush=True)
cfgs = sys.argv[1:]
for c in cfgs:
    keep, where = c.split(","); metric, prop, rejoin = "x", "1", "0"
    keep = float(keep); L = 6
    share = [keep ** ((l + 1) / (L - 1)) for l in range(L - 1)]
    st = [0, 0]
    D = torch.stack([embed(p["doc"], share, metric, prop == "1", rejoin == "1", st, where) for p in pairs])
    m = mrr(D); cos = float((D * D0).sum(1).mean())
    print("%s: MRR %.4f (%.2f %%) mean cos %.4f doc cost share %.3f" % (c, m, 100 * m / base, cos, st[0] / st[1]), flush=True)
