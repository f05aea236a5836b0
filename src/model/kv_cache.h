/* kv_cache.h — the key/value cache of a session, one per layer, that methods may edit.
 *
 * Each layer's cache is a list of slots; a slot holds the key and value rows of one token (after
 * RoPE) and that token's position. Attention masks by position, never by slot index, so slots can
 * be removed (eviction), reordered or kept in another dtype without changing what the remaining
 * keys mean, and the next token's position (n_past) keeps counting however many slots remain.
 * While a layer's slots are exactly positions 0, 1, 2, ... in order (nothing was ever removed),
 * attention takes the index fast path; results are then bitwise those of a plain growing cache.
 *
 * Memory grows with the tokens held (doubling, from a small start) up to max_slots per layer;
 * nothing is reserved for the model's whole context up front.
 *
 * A policy (xf_kv_policy) decides what to keep: it is called after a prefill, after each decode
 * step and when a layer is full. It may ask, per layer, for the attention weights of the last
 * forward (want_w): forward.c then fills w; when no layer asks, nothing extra is computed. The
 * default policy keeps everything and fails cleanly when the cache is full. */
#ifndef XF_MODEL_KV_CACHE_H
#define XF_MODEL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "xfmr.h"

/* Quantized slots (kv_quant.c): blocks of 32 values; q8 blocks are a half scale and 32 int8 (34
 * bytes), q4 blocks a half scale, a half minimum and 32 nibbles (20 bytes). */
#define XF_KV_QBLOCK 32
#define XF_KV_Q8_BYTES 34
#define XF_KV_Q4_BYTES 20

typedef struct xf_kv_layer {
    size_t kv_dim;   /* n_kv_heads * head_dim of the layer */
    size_t n_heads;  /* query heads (rows of w) */
    size_t n_kv_heads;   /* key/value heads: columns [g head_dim, (g + 1) head_dim) of a slot are head g's */
    const size_t *q_off; /* the plan's query heads of each key/value head (xf_attn_plan.q_off; NULL: equal groups) */
    int windowed;        /* the layer attends through a sliding window (masks by the slots' positions) */
    size_t n, cap;   /* slots in use, slots allocated */
    int type;        /* xf_kv_type: XF_KV_F32, F16, Q8 or Q4 */
    /* F32 / F16 / Q8: slot j's keys and values are row j of k and v (xf_kv_row_bytes each). Q4:
     * slots [0, nq) are quantized, keys as groups of 32 slots (group g: kv_dim blocks, channel c
     * over slots 32g..32g+31) and values as rows; slots [nq, n) are rows of rk and rv (float32,
     * [XF_KV_QBLOCK, kv_dim]) until their group of 32 is complete. */
    void *k, *v;
    float *rk, *rv;
    size_t nq;
    int32_t *pos;    /* [cap] position of each slot's token */
    int in_order;    /* 1 while pos[i] == i for every slot i < n */
    int want_w;      /* set by the policy: fill w on each forward (1), or on forwards of more
                        than one token only (2: a policy that reads them at the end of a prompt) */
    size_t w_last;   /* set by the policy: sum the weights of only the last w_last queries of a
                        forward (SnapKV's observation window); 0 = all of them */
    float *w;        /* [n_heads, cap]: summed attention weights of the last forward's queries */
    /* Quest (kv_quest.c), when quest is set: per page of `page` slots (slots [page b, page (b+1)))
     * the per-channel minimum and maximum of its keys ([pages_cap, kv_dim]) over slots
     * [0, bounds_n), and the pages each key/value head reads this step (page_on [kv heads,
     * pages_cap]); the rest is scratch of the selection. */
    int quest;
    size_t page, head_dim, pages_cap, bounds_n; /* head_dim: set for every layer */
    float *page_min, *page_max, *page_score, *page_row;
    unsigned char *page_on, *page_fixed;
    size_t *page_idx;
} xf_kv_layer;

typedef struct xf_kv_policy xf_kv_policy;

typedef struct xf_kv_cache {
    size_t n_layers;
    xf_kv_layer *layers;
    size_t n_past;    /* position of the next token */
    size_t max_slots; /* most slots one layer may hold */
    const xf_kv_policy *policy;
    void *policy_state;
    size_t budget;         /* slots per layer an evicting policy keeps between forwards (0: none) */
    size_t n_pending;      /* tokens of the current xf_session_eval still to come after this
                              forward (set by the session before the forward) */
    size_t min_last_chunk; /* set by the policy: the session makes the last chunk of a prompt at
                              least this long (SnapKV's observation window); 0 = any */
    size_t quest_budget;   /* Quest: keys a decode step reads per key/value head; 0 = all */
    /* Quest: the keys and values a decode step selected, gathered ([quest_rows, largest kv_dim]
     * floats each; see xf_quest_gather) */
    float *quest_k, *quest_v;
    float *quest_w; /* [largest n_heads, quest_rows]: the attention weights of the gathered rows */
    size_t quest_rows;
} xf_kv_cache;

struct xf_kv_policy {
    const char *name;
    int removes; /* 0: never removes a slot (a session then refuses up front what does not fit) */
    /* Set up: state, and want_w of the layers whose weights it reads. */
    xf_status (*init)(xf_kv_cache *c, void **state);
    /* After a forward of n_new > 1 tokens (prefill), after a single-token step. */
    xf_status (*after_prefill)(void *state, xf_kv_cache *c, size_t n_new);
    xf_status (*after_step)(void *state, xf_kv_cache *c);
    /* Before a forward of `need` tokens when some layer holds more than max_slots - need slots:
     * remove slots so that every layer has room, or fail (XF_ERR_RANGE with a message). */
    xf_status (*on_full)(void *state, xf_kv_cache *c, size_t need);
    void (*free)(void *state);
};

/* Keeps every slot; a full cache is an error. */
extern const xf_kv_policy xf_kv_keep_all;

/* Caches for every layer of a plan (shapes from its attention plans), holding at most max_slots
 * slots per layer, first allocated for `reserve` slots (0: a small start), slots of the given
 * xf_kv_type, with the given policy (NULL: keep all) and its budget (slots kept per layer; ignored
 * by keep-all). Q4 needs a policy that never removes slots (XF_ERR_UNSUPPORTED otherwise). */
xf_status xf_kv_init(xf_kv_cache *c, const xf_plan *p, size_t max_slots, size_t reserve, int type,
                     const xf_kv_policy *policy, size_t budget);
void xf_kv_free(xf_kv_cache *c);
/* Forget every slot (n_past = 0); keeps the memory. */
void xf_kv_clear(xf_kv_cache *c);
/* Room for n more slots in every layer: the policy's on_full when a layer would exceed
 * max_slots, then growth of the allocations. No slot changes on failure. */
xf_status xf_kv_reserve(xf_kv_cache *c, size_t n);
/* Append n rows (K, V: [n, kv_dim] floats, row stride ld; pos: [n]) to a layer (room reserved). */
void xf_kv_append(xf_kv_layer *L, const float *K, const float *V, size_t ld, const int32_t *pos, size_t n);
/* Keep the slots whose keep[i] is nonzero (i < L->n), in their order; drop the others. */
void xf_kv_keep(xf_kv_layer *L, const unsigned char *keep);
/* The same per key/value head: head g keeps the slots i with keep[g * ld + i] nonzero, in their
 * order, in its own columns (and its query heads' rows of w), so that slot j of two heads may
 * hold different tokens. Every head must keep the same number of slots. A slot's position is then
 * that of head 0's token: attention stays right as long as every kept slot is older than the
 * queries to come (no sliding window: L->windowed). F32, F16 and Q8 rows (Q8: head_dim a multiple
 * of XF_KV_QBLOCK). */
void xf_kv_keep_heads(xf_kv_layer *L, const unsigned char *keep, size_t ld);
/* Whether the per-head policies (snapkv-head, h2o-head) can run on c: XF_ERR_UNSUPPORTED naming the
 * policy, the layer and `layerwise` (the policy to use instead) for a sliding-window layer (its
 * mask needs one position per slot) or a q8 cache whose head is not whole blocks. */
xf_status xf_kv_per_head_check(const xf_kv_cache *c, const char *name, const char *layerwise);
/* The query heads [*h0, *h1) of key/value head g (as xf_attn_group). */
void xf_kv_group(const xf_kv_layer *L, size_t g, size_t *h0, size_t *h1);
/* Bytes the cache holds allocated. */
size_t xf_kv_bytes(const xf_kv_cache *c);
/* Row j of a layer's keys or values as floats (dst [kv_dim]). */
void xf_kv_row(const xf_kv_layer *L, int values, size_t j, float *dst);

/* The formats (kv_quant.c). Bytes of one slot's keys (or values) in a type (for Q4: its share of
 * a key group, the same as a value row). */
size_t xf_kv_row_bytes(int type, size_t kv_dim);
/* "f32", "f16", "q8", "q4"; NULL for another value. */
const char *xf_kv_type_name(int type);
/* A row of kv_dim floats as q8 blocks (the last one partial when kv_dim % 32 != 0). */
void xf_kv_q8_row(const float *x, size_t kv_dim, uint8_t *dst);
/* n <= 32 floats x[i * stride] as one q4 block. */
void xf_kv_q4_block(const float *x, size_t stride, size_t n, uint8_t *dst);
/* Q4: quantize the 32 residual slots (a complete group) into the quantized region. */
void xf_kv_q4_seal(xf_kv_layer *L);
/* The attention kernel's reader of a layer (xf_kv_tile_fn of attention.h): rows [j0, j0 + nk) of
 * its keys (values = 0) or values, columns [col, col + dh), as floats with row stride dp and
 * columns [dh, dp) zeroed. Any type, any rows and columns. */
void xf_kv_tile(const void *layer, int values, size_t j0, size_t nk, size_t col, size_t dh, size_t dp, float *dst);

/* Quest's sparse decode attention (kv_quest.c). */
#define XF_QUEST_PAGE 16 /* slots per page by default (the paper's page size) */
/* Turn Quest on for every layer of c: decode steps read about `budget` keys per key/value head in
 * pages of `page` slots (0: XF_QUEST_PAGE), with bounds for the slots the layers have room for. */
xf_status xf_kv_quest_init(xf_kv_cache *c, const xf_plan *p, size_t budget, size_t page);
/* Bounds and selection arrays of a layer for cap slots, keeping the folded bounds. */
xf_status xf_quest_grow(xf_kv_layer *L, size_t cap);
void xf_quest_free(xf_kv_layer *L);
/* Fold the slots since bounds_n into their pages' bounds. */
void xf_quest_fold(xf_kv_layer *L);
/* The page bound of one query head: sum over c < dh of max(q[c] mn[c], q[c] mx[c]) — at least
 * q . k for every key k with mn <= k <= mx channel by channel. */
float xf_quest_bound(const float *q, const float *mn, const float *mx, size_t dh);
/* This decode step's pages: page_on of each key/value head of attention plan a for the query
 * row q ([n_heads * head_dim], after RoPE): the first page (attention sinks), the newest page(s)
 * and the highest-bound others, up to ceil(budget / page) pages. Returns the pages each key/value
 * head reads (the same number for every head). */
size_t xf_quest_select(xf_kv_layer *L, const xf_attn_plan *a, const float *q, size_t budget);
/* The selected pages' keys and values, gathered in slot order as floats: row i of gk / gv
 * ([rows, kv_dim]) holds, in the columns of key/value head g, the i-th key / value that head g
 * reads. Returns the number of rows (every head reads as many: the only partial page, the newest,
 * is read by all), or 0 when more than `rows` would be needed. Attention over the rows (causal,
 * the query at the last row) is attention over the selected slots: the newest query sees every
 * slot of its cache. */
size_t xf_quest_gather(const xf_kv_layer *L, size_t n_kv_heads, float *gk, float *gv, size_t rows);
/* The attention weights of gathered rows (gw: [query head][rows], as xf_attention_weights sums
 * them over the gathered problem) added to the slots they came from: w[h * ldw + slot]; slots
 * the step did not read get nothing. For policies that score slots by attention (h2o, snapkv). */
void xf_quest_scatter(const xf_kv_layer *L, const xf_attn_plan *a, const float *gw, size_t rows, float *w, size_t ldw);
/* Rows xf_quest_gather may need for a budget: the budget's pages, the fixed ones, one partial. */
size_t xf_quest_rows(size_t budget, size_t page);

/* Policy hooks, called by sessions. */
xf_status xf_kv_after_forward(xf_kv_cache *c, size_t n_new);

/* The evicting policies (a file each, h2o's two variants one; docs/LONG_CONTEXT.md), by name: "keep-all", "streaming"
 * (StreamingLLM: attention sinks + recent window), "h2o" (heavy hitters by accumulated attention
 * + recent window), "snapkv" (prompt keys chosen by the pooled attention of the last queries);
 * "h2o-head" and "snapkv-head" select per key/value head (xf_kv_keep_heads). */
extern const xf_kv_policy xf_kv_streaming, xf_kv_h2o, xf_kv_h2o_head, xf_kv_snapkv, xf_kv_snapkv_head;
const xf_kv_policy *xf_kv_policy_named(const char *name);
/* "keep-all, streaming, ...": the table's names, for messages, into buf (size bytes, cut to fit). */
void xf_kv_policy_names(char *buf, size_t size);

/* Selection kernels the policies share (kv_select.c), each with a plain reference for tests.
 * xf_kv_select_top: keep[i] = 1 for the fixed slots (fixed[i] != 0) and for the k others of
 * highest score (ties: the later slot); keep[i] = 0 for the rest. k beyond the candidates keeps
 * them all. Returns the number kept. scratch: n size_t. */
size_t xf_kv_select_top(const float *score, const unsigned char *fixed, size_t n, size_t k, unsigned char *keep,
                        size_t *scratch);
size_t xf_kv_select_top_ref(const float *score, const unsigned char *fixed, size_t n, size_t k, unsigned char *keep);
/* Mark (set, never clear) the first `sinks` and the last `recent` of n slots in keep: the oldest
 * and newest tokens, since a session's slots stay in position order. */
void xf_kv_mark_sinks_recent(size_t n, size_t sinks, size_t recent, unsigned char *keep);
/* Apply a keep mask to a layer and to per-slot arrays that follow its slots (`extra` of them, each
 * [cap] floats; NULL entries skipped). */
void xf_kv_keep_with(xf_kv_layer *L, const unsigned char *keep, float *const *extra, size_t n_extra);
/* Per-slot scores of every layer and the scratch of a selection, shared by the scoring policies
 * (h2o, snapkv and their per-head variants). score[l] follows layer l's slots (compact it with
 * xf_kv_keep_with). */
typedef struct xf_kv_scores {
    float **score;   /* [n_layers][cap[l]] */
    size_t *cap, n_layers;
    unsigned char *keep, *fixed;
    float *raw;
    size_t *idx, scratch_cap;
} xf_kv_scores;
xf_status xf_kv_scores_init(xf_kv_scores *s, size_t n_layers);
void xf_kv_scores_free(xf_kv_scores *s);
/* Room for n slots in layer l's scores (new entries = fill) and n in the scratch. */
xf_status xf_kv_scores_room(xf_kv_scores *s, size_t l, size_t n, float fill);
/* Keep `target` of layer l's slots: the first `sinks` and the last `fixed_last` always, the others
 * by highest score. */
void xf_kv_scores_keep_top(xf_kv_scores *s, xf_kv_layer *L, size_t l, size_t target, size_t sinks, size_t fixed_last);
/* The same per key/value head (policies that select per head): layer l's scores hold slot i of
 * head g at score[l][i * n_kv_heads + g]. Room for the layer's L->n slots of every head (and the
 * scratch of a selection per head), the slots from `fresh` on set to fill in every head. */
xf_status xf_kv_scores_room_heads(xf_kv_scores *s, const xf_kv_layer *L, size_t l, size_t fresh, float fill);
/* Each head keeps `target` of layer l's slots as xf_kv_scores_keep_top does (the first `sinks`
 * and the last `fixed_last` in every head), the others by highest score in its own column; the
 * layer (xf_kv_keep_heads) and the scores follow. */
void xf_kv_scores_keep_top_heads(xf_kv_scores *s, xf_kv_layer *L, size_t l, size_t target, size_t sinks,
                                 size_t fixed_last);

/* SnapKV (kv_policy_snapkv.c, kv_policy_snapkv_head.c): the observation window (the prompt's last
 * queries), the pooling kernel, and the slots a decode step never evicts (StreamingLLM's attention
 * sinks). */
#define XF_SNAPKV_WINDOW 32
#define XF_SNAPKV_KERNEL 5
#define XF_SNAPKV_SINKS 4
/* The two SnapKV policies' set-up (the budget checked against the window, an xf_kv_scores state,
 * the window's weights asked of prompt forwards) and their state's release. */
xf_status xf_snapkv_init(xf_kv_cache *c, void **state, const char *name);
void xf_snapkv_free(void *state);
/* SnapKV's pooling: out[j] = sum of raw[j - kernel/2 .. j + kernel/2] within [0, n) / kernel (an
 * average pool with zero padding), accumulated in double. */
void xf_snapkv_pool(const float *raw, size_t n, size_t kernel, float *out);

#endif
