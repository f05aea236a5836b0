/* kv_policies.c — the table of KV-cache policies by name (kv_cache.h); each policy is one file. */
#include <string.h>

#include "model/kv_cache.h"

static const xf_kv_policy *const k_policies[] = {&xf_kv_keep_all, &xf_kv_streaming, &xf_kv_h2o, &xf_kv_snapkv,
                                                 &xf_kv_snapkv_head};

const xf_kv_policy *xf_kv_policy_named(const char *name) {
    for (size_t i = 0; name && i < sizeof k_policies / sizeof k_policies[0]; i++)
        if (strcmp(k_policies[i]->name, name) == 0) return k_policies[i];
    return NULL;
}

const char *xf_kv_policy_names(void) { return "keep-all, streaming, h2o, snapkv, snapkv-head"; }
