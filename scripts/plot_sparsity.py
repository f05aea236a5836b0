# plot_sparsity.py — docs/img/sparsity.png from the figures of docs/COMPRESSION.md (typed in below,
# measured with the commands there). Run from the source tree: python3 scripts/plot_sparsity.py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
# MiniLM MRR@10 (1000 Debian pairs)
names = ["dense", "2:4 magnitude", "2:4 Wanda", "50% magnitude", "50% Wanda"]
mrr = [0.8419, 0.7593, 0.8376, 0.8344, 0.8589]
col = ["gray", "tab:red", "tab:green", "tab:orange", "tab:blue"]
ax[0].bar(range(5), mrr, color=col)
ax[0].set_xticks(range(5)); ax[0].set_xticklabels(names, rotation=25, ha="right", fontsize=8)
ax[0].set_ylim(0.7, 0.9); ax[0].set_ylabel("MRR@10"); ax[0].set_title("all-MiniLM-L6-v2 retrieval (1000 Debian pairs)")
for i, v in enumerate(mrr): ax[0].text(i, v + 0.003, f"{v:.3f}", ha="center", fontsize=8)
# SmolLM2 ppl vs decode speed (1 thread, CPU-time tok/s: build/bench_sparse SmolLM2-135M-Instruct.Q4_1.gguf
# --threads 1 --gen 32 --prompt 16 --runs 5, same process, 2026-12-05 after the huge-page weights and the
# 2:4 kernels' row loops; unstructured 50 % runs the dense kernels)
ppl = {"dense": 14.9, "2:4 magnitude": 2026, "2:4 Wanda": 118, "50% magnitude": 266, "50% Wanda": 30.5}
speed = {"dense": 37.44, "2:4 magnitude": 52.26, "2:4 Wanda": 52.26, "50% magnitude": 37.44, "50% Wanda": 37.44}
for (n, c) in zip(names, col):
    ax[1].scatter(speed[n], ppl[n], color=c, s=50, label=n)
ax[1].set_yscale("log"); ax[1].set_xlabel("decode tokens/s per CPU second (1 thread, F32 values)")
ax[1].set_ylabel("perplexity (valgrind-faq + bash-compat)"); ax[1].set_title("SmolLM2-135M: quality vs decode speed")
ax[1].set_xlim(30, 60); ax[1].legend(fontsize=8)
fig.tight_layout(); fig.savefig("docs/img/sparsity.png", dpi=110)
