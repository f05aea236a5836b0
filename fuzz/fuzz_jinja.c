/* fuzz_jinja.c — libFuzzer harness: the Jinja engine of chat templates. The input is split at
 * "\n--\n": the first part is a template text, compiled; the second, when present, is a JSON
 * object of template variables. Each compiled template is rendered with a few fixed
 * conversations (plain, with a system message, with tools and tool calls, with reasoning) under
 * small limits on steps, memory and output, so that a slow or huge template is an error, not a
 * timeout. Checks: no crash or leak, output NUL-terminated at its length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tokenizer/jinja.h"

static const char *const CONVS[] = {
    "[{\"role\":\"user\",\"content\":\"Hi\"}]",
    "[{\"role\":\"system\",\"content\":\" Be brief. \"},{\"role\":\"user\",\"content\":\"Hi\\n\"},"
    "{\"role\":\"assistant\",\"content\":\"<think>\\nx\\n</think>\\n\\nHello\"},{\"role\":\"user\",\"content\":\"\"}]",
    "[{\"role\":\"user\",\"content\":\"Weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
    "[{\"type\":\"function\",\"id\":\"call_1\",\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]},"
    "{\"role\":\"tool\",\"content\":\"22\",\"tool_call_id\":\"call_1\"},{\"role\":\"assistant\",\"content\":\"22 C\","
    "\"reasoning_content\":\"easy\"}]",
};
static const char TOOLS[] =
    "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}],"
    "\"documents\":[{\"title\":\"A\",\"text\":\"alpha\"}],\"enable_thinking\":false}";

static void render(const xf_jinja *j, const char *msgs, const char *vars, int agp) {
    static const char *const strvars[] = {"bos_token", "<s>", "eos_token", "</s>"};
    xf_jinja_input in = {msgs, vars, strvars, 2, agp, 1721952000};
    xf_jinja_limits lim = {1u << 20, 64u << 20, 200000};
    char *out = NULL;
    size_t len = 0;
    if (xf_jinja_render(j, &in, &lim, &out, &len) == XF_OK) {
        if (strlen(out) > len || out[len] != '\0') __builtin_trap();
        free(out);
    } else if (out) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *a, *b;
    size_t na, nb;
    int parts = fz_split2(data, size, &a, &na, &b, &nb);
    char *vars = malloc(nb + 1);
    if (!vars) abort();
    memcpy(vars, b, nb);
    vars[nb] = 0;
    xf_jinja *j = NULL;
    if (xf_jinja_compile((const char *)a, na, &j) == XF_OK) {
        for (size_t k = 0; k < sizeof CONVS / sizeof *CONVS; k++)
            render(j, CONVS[k], k == 2 ? TOOLS : NULL, (int)(k & 1));
        if (parts == 2) render(j, CONVS[0], vars, 1);
        xf_jinja_free(j);
    }
    free(vars);
    return 0;
}
