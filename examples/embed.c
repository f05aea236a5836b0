/* embed.c — the smallest complete use of libxfmr: load a model, embed two sentences, print
 * their cosine similarity. Uses only the public header.
 *
 *   cc embed.c $(pkg-config --cflags --libs xfmr) -o embed && ./embed models/all-MiniLM-L6-v2
 */
#include <stdio.h>
#include <stdlib.h>
#include <xfmr.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [TEXT_A TEXT_B]\n", argv[0]);
        return 2;
    }
    const char *texts[2] = {argc > 3 ? argv[2] : "A man is eating food.",
                            argc > 3 ? argv[3] : "A man is eating a piece of bread."};
    xf_model_params params = xf_model_default_params();
    xf_model *model = NULL;
    if (xf_model_load(argv[1], &params, &model) != XF_OK) {
        fprintf(stderr, "error: %s\n", xf_errmsg());
        return 1;
    }
    size_t dim = xf_model_embedding_dim(model);
    float *vecs = malloc(2 * dim * sizeof *vecs);
    if (!vecs || xf_embed(model, texts, 2, 0, vecs, NULL) != XF_OK) {
        fprintf(stderr, "error: %s\n", vecs ? xf_errmsg() : "out of memory");
        free(vecs);
        xf_model_free(model);
        return 1;
    }
    printf("dim %zu, cosine(\"%s\", \"%s\") = %.4f\n", dim, texts[0], texts[1],
           xf_cosine(vecs, vecs + dim, dim));
    free(vecs);
    xf_model_free(model);
    return 0;
}
