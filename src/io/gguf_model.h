/* gguf_model.h — llama.cpp GGUF files as models: finding the file, the config from metadata, and
 * the mapping between llama.cpp tensor names and the Hugging Face names the architectures ask
 * for. See docs/GGUF.md ("Loading a model from GGUF"). */
#ifndef XF_IO_GGUF_MODEL_H
#define XF_IO_GGUF_MODEL_H

#include <stddef.h>

#include "io/gguf.h"
#include "io/hf_config.h"
#include "xfmr.h"

/* Decide whether a model path is GGUF: a file whose name ends in ".gguf", or a folder without
 * config.json that holds exactly one "*.gguf" file. *gguf_path gets a heap copy of the file path
 * (free()), or NULL when the path is not a GGUF model (then the caller loads a HF folder). A folder
 * without config.json holding several .gguf files is XF_ERR_INVALID_ARG naming them. */
xf_status xf_gguf_model_resolve(const char *path, char **gguf_path);

/* Fill cfg from the metadata of an open GGUF (general.architecture: llama, qwen2, gpt2, bert,
 * modern-bert — model_type "modernbert", its window, pattern and two rope bases as llama.cpp reads
 * them —, deci — llama.cpp's LLaMA with per-layer shapes — or xfmr-llama / -qwen2 / -gpt2 / -bert, the names
 * xf_model_save gives models other readers would misread; others are XF_ERR_UNSUPPORTED).
 * head_count, head_count_kv and feed_forward_length may be per-layer arrays (cfg gets the largest;
 * the architectures take each layer's shapes from its tensors; bert / gpt2 layers with fewer heads
 * become cfg.pruned_heads); xfmr.attention.q_groups gives cfg.q_groups; xfmr.rope.* keys give exact
 * rope parameters. A llama file with llama.attention.sliding_window > 0 becomes model_type
 * "mistral" with that window (llama.cpp's converter writes Mistral as "llama" and drops the
 * window). Missing required keys are XF_ERR_NOT_FOUND, values out of range XF_ERR_RANGE; messages
 * name the file and the key. On failure cfg may hold heap arrays: xf_hf_config_free it. */
xf_status xf_gguf_model_config(const xf_gguf *g, xf_hf_config *cfg);

/* The sentence-transformers layout of a bert file: pooling from xfmr.pooling, else
 * <arch>.pooling_type (1 mean, 2 cls, 3 last; absent or 0: mean), normalisation from
 * xfmr.normalize, max_seq_length from xfmr.max_seq_length; all zero (mean, no normalisation) for
 * decoders. */
xf_status xf_gguf_model_layout(const xf_gguf *g, const xf_hf_config *cfg, xf_st_layout *out);

/* How a tensor must be rearranged after dequantization to match the HF layout. */
typedef enum xf_gguf_permute {
    XF_GGUF_PERMUTE_NONE = 0,
    XF_GGUF_PERMUTE_Q, /* llama attn_q: undo llama.cpp's row permutation with head_count */
    XF_GGUF_PERMUTE_K, /* llama attn_k: the same with head_count_kv */
    XF_GGUF_TRANSPOSE  /* gpt2 Conv1D: llama.cpp stores [out, in] row-major (dims [in, out]); HF asks [in, out] */
} xf_gguf_permute;

/* The llama.cpp name of a Hugging Face tensor name (model.layers.N.self_attn.q_proj.weight ->
 * blk.N.attn_q.weight, ...) into out[cap]; returns 0 when there is no mapping. *permute (may be
 * NULL) tells which rows llama.cpp permuted for architecture arch ("llama" and "mistral") or which
 * gpt2 matrices it transposed. gpt2 names may carry the "transformer." prefix. */
int xf_gguf_tensor_name(const char *arch, const char *hf_name, char *out, size_t cap, xf_gguf_permute *permute);

/* Undo llama.cpp's Q/K permutation in place: W is n_head * dh rows of row_bytes bytes each (floats
 * or whole rows of quantized blocks) as llama.cpp wrote them (row h*dh + 2i + j holds HF row
 * h*dh + j*dh/2 + i). tmp holds dh * row_bytes bytes. */
void xf_gguf_unpermute_rows(void *W, size_t n_head, size_t dh, size_t row_bytes, void *tmp);

#endif
