/* fuzz_chat_template.c — libFuzzer harness: chat templates. The input is split at "\n--\n":
 * the first part is a template text for xf_chat_template_detect; the second is a conversation
 * (messages separated by NUL bytes, the first byte of each picking its role, possibly an
 * invalid one) rendered with the detected template and with every built-in one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "xfmr.h"

#define MAX_MSGS 16

static void render(const xf_chat_template *t, const xf_chat_message *m, size_t n, int gen) {
    char *out = NULL;
    size_t len = 0;
    if (xf_chat_render(t, m, n, gen, &out, &len) == XF_OK) {
        if (strlen(out) > len) __builtin_trap();
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *a, *b;
    size_t na, nb;
    fz_split2(data, size, &a, &na, &b, &nb);
    char *tmpl_text = malloc(na + 1), *conv = malloc(nb + 1);
    if (!tmpl_text || !conv) abort();
    memcpy(tmpl_text, a, na);
    tmpl_text[na] = 0;
    memcpy(conv, b, nb);
    conv[nb] = 0;

    static const char *const roles[] = {"system", "user", "assistant", "tool", ""};
    xf_chat_message msgs[MAX_MSGS];
    size_t n = 0;
    /* conv[nb] is NUL, so conv + i + 1 (i < nb) is always a valid NUL-terminated string. */
    for (size_t i = 0; i < nb && n < MAX_MSGS; n++) {
        msgs[n].role = roles[(uint8_t)conv[i] % 5];
        msgs[n].content = conv + i + 1;
        i += 1 + strlen(conv + i + 1) + 1;
    }
    int gen = na ? (a[0] & 1) : 1;

    xf_chat_template *t = NULL;
    if (xf_chat_template_detect(tmpl_text, &t) == XF_OK) {
        size_t ns;
        (void)xf_chat_template_stops(t, &ns);
        (void)xf_chat_template_default_system(t);
        if (n) render(t, msgs, n, gen);
        xf_chat_template_free(t);
    }
    if (n) {
        static const char *const names[] = {"chatml", "smollm2", "qwen2", "llama3", "llama2", "mistral", "zephyr"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            if (xf_chat_template_from_name(names[k], &t) != XF_OK) abort();
            render(t, msgs, n, gen);
            xf_chat_template_free(t);
        }
    }
    free(tmpl_text);
    free(conv);
    return 0;
}
