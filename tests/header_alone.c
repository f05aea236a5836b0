/* header_alone.c — proves include/xfmr.h is self-contained C: it is the only include, and it
 * compiles with -pedantic -Werror (its inline initialisers included); the version macros agree
 * with the version string. (Linking is proved by examples/embed.c.) */
#include "xfmr.h"

#if XFMR_VERSION_NUMBER != XFMR_VERSION_MAJOR * 10000 + XFMR_VERSION_MINOR * 100 + XFMR_VERSION_PATCH
#error "XFMR_VERSION_NUMBER disagrees with MAJOR / MINOR / PATCH"
#endif
#define XF_STR2(x) #x
#define XF_STR(x) XF_STR2(x)
static const char k_parts[] = XF_STR(XFMR_VERSION_MAJOR) "." XF_STR(XFMR_VERSION_MINOR) "." XF_STR(XFMR_VERSION_PATCH);

int main(void) {
    xf_model_info info = xf_model_info_init();
    xf_model_params mp = xf_model_default_params();
    xf_sampler_params sp = xf_sampler_default_params();
    xf_session_params sep = xf_session_default_params();
    if (info.struct_size != sizeof info || mp.struct_size != sizeof mp || sp.struct_size != sizeof sp ||
        sep.struct_size != sizeof sep)
        return 1;
    for (int k = 0; k_parts[k] || XFMR_VERSION[k]; k++)
        if (k_parts[k] != XFMR_VERSION[k]) return 2; /* "MAJOR.MINOR.PATCH" == XFMR_VERSION */
    xf_encoding enc = {0};
    xf_embed_stats stats = {0};
    xf_status st = XF_OK;
    (void)info;
    (void)enc;
    (void)stats;
    return (int)st;
}
