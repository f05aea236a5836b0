/* header_alone.c — proves include/xfmr.h is self-contained C: it is the only include, and it
 * compiles with -pedantic -Werror. (Linking is proved by examples/embed.c.) */
#include "xfmr.h"

int main(void) {
    xf_model_info info = {0};
    xf_encoding enc = {0};
    xf_embed_stats stats = {0};
    xf_status st = XF_OK;
    (void)info;
    (void)enc;
    (void)stats;
    return (int)st;
}
