/* kv_policies.c — the table of KV-cache policies by name (kv_cache.h); each policy is one file. */
#include <stdio.h>
#include <string.h>

#include "model/kv_cache.h"

static const xf_kv_policy *const k_policies[] = {&xf_kv_keep_all, &xf_kv_streaming, &xf_kv_h2o, &xf_kv_h2o_head,
                                                 &xf_kv_snapkv, &xf_kv_snapkv_head};

const xf_kv_policy *xf_kv_policy_named(const char *name) {
    for (size_t i = 0; name && i < sizeof k_policies / sizeof k_policies[0]; i++)
        if (strcmp(k_policies[i]->name, name) == 0) return k_policies[i];
    return NULL;
}

void xf_kv_policy_names(char *buf, size_t size) {
    size_t o = 0;
    for (size_t i = 0; size && i < sizeof k_policies / sizeof k_policies[0]; i++) {
        const int n = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", k_policies[i]->name);
        if (n < 0 || (size_t)n >= size - o) break; /* cut: buf holds what fit */
        o += (size_t)n;
    }
}
