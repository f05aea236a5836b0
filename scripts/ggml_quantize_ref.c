/* ggml_quantize_ref.c — quantize a float32 file with ggml's own quantizer (ggml_quantize_chunk, as
 * llama-quantize calls it without an importance matrix), for scripts/make_quantize_goldens.py.
 * Build: cc -O2 ggml_quantize_ref.c -I$LLAMA/ggml/include $BUILD/ggml/src/libggml-base.a -fopenmp -lstdc++ -lm
 * Usage: ggml_quantize_ref TYPE_ID N_PER_ROW in.f32 out.bin */
#include <stdio.h>
#include <stdlib.h>

#include "ggml.h"

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    const int type = atoi(argv[1]);
    const long n_per_row = atol(argv[2]);
    FILE *f = fopen(argv[3], "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    const long n = ftell(f) / 4;
    fseek(f, 0, SEEK_SET);
    float *x = malloc((size_t)n * 4);
    if (!x || fread(x, 4, (size_t)n, f) != (size_t)n) return 1;
    fclose(f);
    const long rows = n / n_per_row;
    const size_t bytes = ggml_row_size((enum ggml_type)type, n_per_row) * (size_t)rows;
    void *out = malloc(bytes);
    const size_t got = ggml_quantize_chunk((enum ggml_type)type, x, out, 0, rows, n_per_row, NULL);
    if (got != bytes) return 1;
    f = fopen(argv[4], "wb");
    if (!f || fwrite(out, 1, bytes, f) != bytes || fclose(f)) return 1;
    return 0;
}
