/* limits.h — caps on the sizes a model file may declare (docs/SECURITY.md, "Limits"). A value
 * above its cap is refused with XF_ERR_RANGE naming the file, the field and the value, before
 * anything is allocated for it. Each can be raised at build time where a real model needs more:
 *   cmake -DCMAKE_C_FLAGS="-DXF_MAX_POSITIONS=4194304" ...
 * (File-format caps live next to their readers: io/gguf.h XF_GGUF_MAX_*, io/safetensors.c,
 * core/file.h XF_READ_FILE_MAX; the session memory cap is XF_SESSION_MAX_BYTES in xfmr.h.) */
#ifndef XF_CORE_LIMITS_H
#define XF_CORE_LIMITS_H

#ifndef XF_MAX_VOCAB
#define XF_MAX_VOCAB 10000000 /* vocab_size, tokenizer vocabularies and merges */
#endif
#ifndef XF_MAX_HIDDEN
#define XF_MAX_HIDDEN 65536 /* hidden_size, heads, kv heads, head_dim, type_vocab_size */
#endif
#ifndef XF_MAX_LAYERS
#define XF_MAX_LAYERS 1024 /* num_hidden_layers */
#endif
#ifndef XF_MAX_FFN
#define XF_MAX_FFN 1048576 /* intermediate_size */
#endif
#ifndef XF_MAX_POSITIONS
#define XF_MAX_POSITIONS 1048576 /* max_position_embeddings / context_length, max_seq_length */
#endif

#endif
