/* test_smollm2_ppl.c — perplexity of SmolLM2-135M-Instruct (Q4_1 GGUF) on a real text
 * (tests/data/ppl_text.txt, the start of the Apache-2.0 license) against transformers running the
 * same GGUF with the Hugging Face guide's strided sliding-window loop
 * (scripts/make_smollm2_ppl_ref.py -> tests/data/smollm2_ppl_ref.json): same token count, same
 * number of scored tokens, perplexity within 0.5 %. Skipped when the model is not fetched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"
#include "core/json.h"
#include "harness.h"
#include "xfmr.h"

int main(void) {
    const char *gguf = xf_t_smollm2();
    if (!gguf) return xf_t_report();
    cJSON *ref = NULL;
    CHECK(xf_json_load(xf_t_src("tests/data/smollm2_ppl_ref.json"), &ref) == XF_OK);
    char *text = NULL;
    size_t len = 0;
    CHECK(xf_read_file(xf_t_src("tests/data/ppl_text.txt"), 1 << 20, &text, &len) == XF_OK);
    xf_model *m = NULL;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    CHECK_MSG(xf_model_load(gguf, &p, &m) == XF_OK, "%s", xf_errmsg());
    if (!ref || !text || !m) return xf_t_report();

    xf_encoding enc;
    CHECK(xf_tokenize(xf_model_tokenizer(m), text, len, NULL, 0, 0, &enc) == XF_OK);
    int64_t n_ref = 0;
    CHECK(xf_json_int("smollm2_ppl_ref.json", ref, "n_tokens", 1, 1 << 20, &n_ref) == XF_OK);
    CHECK_MSG((int64_t)enc.n == n_ref, "%zu tokens, transformers' run had %lld", enc.n, (long long)n_ref);

    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(ref, "runs")) {
        int64_t window = 0, stride = 0, scored_ref = 0;
        double ppl_ref = 0;
        CHECK(xf_json_int("ref", run, "window", 2, 1 << 20, &window) == XF_OK);
        CHECK(xf_json_int("ref", run, "stride", 1, 1 << 20, &stride) == XF_OK);
        CHECK(xf_json_int("ref", run, "n_scored", 1, 1 << 20, &scored_ref) == XF_OK);
        CHECK(xf_json_num_opt("ref", run, "ppl", 0, 1e9, &ppl_ref) == XF_OK && ppl_ref > 0);
        double ppl = 0, nll = 0;
        size_t scored = 0;
        xf_status st = xf_perplexity(m, enc.ids, enc.n, (size_t)window, (size_t)stride, &ppl, &nll, &scored);
        CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
        double rel = fabs(ppl - ppl_ref) / ppl_ref;
        printf("window %lld stride %lld: xfmr %.4f, transformers %.4f (relative diff %.2e), scored %zu / %lld\n",
               (long long)window, (long long)stride, ppl, ppl_ref, rel, scored, (long long)scored_ref);
        CHECK_MSG(rel <= 0.005, "perplexity differs by %.3f %%", 100 * rel);
        CHECK((int64_t)scored == scored_ref);
    }
    xf_encoding_free(&enc);
    xf_model_free(m);
    free(text);
    cJSON_Delete(ref);
    return xf_t_report();
}
