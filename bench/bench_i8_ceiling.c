/* bench_i8_ceiling.c — how fast can int8 products go on AVX2 without VNNI, next to fp32 FMA? The
 * instruction-throughput ceilings behind the AVX2 int8 GEMM (kernels/gemm_i8.c), measured on this
 * CPU with register-only loops (no memory traffic, independent accumulators), CPU time, best of 5:
 *
 *   fma        vfmadd231ps ymm: the fp32 GEMM's step, 8 multiply-adds (16 flops)
 *   madd+add   vpmaddwd + vpaddd: int16 pairs into int32 sums, 16 multiply-adds (32 ops): the exact
 *              step of the AVX2 int8 GEMM (8-bit values held in int16, no saturation possible)
 *   kernel     the AVX2 int8 GEMM's inner loop as it runs (6 rows x 8 channels per step: two
 *              vpmovzxbw weight loads, six vpbroadcastq row loads, 12 vpmaddwd, 12 vpaddd) from L1
 *   ubsw+wd+add   vpmaddubsw + vpmaddwd(ones) + vpaddd: the classic u8 x s8 step, 32 multiply-adds;
 *              exact only when a pair cannot pass 32767 (7-bit activations, or 7-bit weights)
 *   2ubsw+addw    two vpmaddubsw summed in int16 before one vpmaddwd: exact only with 6-bit values
 *
 * Prints one JSON object with GFLOP/s or GOP/s (2 per multiply-add) per loop and the ratios to fma.
 * usage: bench_i8_ceiling [--seconds S]   (x86-64 with GCC or Clang; elsewhere it says so) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define CLOB "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
             "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory"
#define R8(op) op " %%ymm14,%%ymm15,%%ymm0\n\t" op " %%ymm14,%%ymm15,%%ymm1\n\t" op " %%ymm14,%%ymm15,%%ymm2\n\t" \
    op " %%ymm14,%%ymm15,%%ymm3\n\t" op " %%ymm14,%%ymm15,%%ymm4\n\t" op " %%ymm14,%%ymm15,%%ymm5\n\t"           \
    op " %%ymm14,%%ymm15,%%ymm6\n\t" op " %%ymm14,%%ymm15,%%ymm7\n\t"
/* accumulate: ymm(8+i) += ymm(i) */
#define A8(op) op " %%ymm0,%%ymm8,%%ymm8\n\t" op " %%ymm1,%%ymm9,%%ymm9\n\t" op " %%ymm2,%%ymm10,%%ymm10\n\t" \
    op " %%ymm3,%%ymm11,%%ymm11\n\t" op " %%ymm4,%%ymm12,%%ymm12\n\t" op " %%ymm5,%%ymm13,%%ymm13\n\t"        \
    op " %%ymm6,%%ymm8,%%ymm8\n\t" op " %%ymm7,%%ymm9,%%ymm9\n\t"
#define ROW(OFF, A, B)                                                                                     \
    "vpbroadcastq " OFF "(%[x]), %%ymm14\n\t vpmaddwd %%ymm14,%%ymm12,%%ymm15\n\t vpaddd %%ymm15,%%ymm" A \
    ",%%ymm" A "\n\t vpmaddwd %%ymm14,%%ymm13,%%ymm14\n\t vpaddd %%ymm14,%%ymm" B ",%%ymm" B "\n\t"

#define U3(I, ACC)                                                                                 \
    "vpmaddubsw %%ymm14,%%ymm15,%%ymm" I "\n\t vpmaddwd %%ymm13,%%ymm" I ",%%ymm" I "\n\t vpaddd %%ymm" I \
    ",%%ymm" ACC ",%%ymm" ACC "\n\t"
#define U4(I, J, ACC)                                                                                     \
    "vpmaddubsw %%ymm14,%%ymm15,%%ymm" I "\n\t vpmaddubsw %%ymm14,%%ymm15,%%ymm" J "\n\t vpaddw %%ymm" I      \
    ",%%ymm" J ",%%ymm" I "\n\t vpmaddwd %%ymm13,%%ymm" I ",%%ymm" I "\n\t vpaddd %%ymm" I ",%%ymm" ACC       \
    ",%%ymm" ACC "\n\t"

static unsigned char buf[4096] __attribute__((aligned(64)));

static double run_kind(int k, long n) {
    unsigned char *x = buf;
    long m = n;
    double t = cpu_now();
    switch (k) {
    case 0: __asm__ volatile("1:\n\t" R8("vfmadd231ps") "dec %[n]\n\tjnz 1b" : [n] "+r"(m) : : CLOB); break;
    case 1: __asm__ volatile("1:\n\t" R8("vpmaddwd") A8("vpaddd") "dec %[n]\n\tjnz 1b" : [n] "+r"(m) : : CLOB); break;
    case 2:
        __asm__ volatile("1:\n\t vpmovzxbw (%[x]), %%ymm12\n\t vpmovzxbw 16(%[x]), %%ymm13\n\t" ROW("0", "0", "1")
                             ROW("8", "2", "3") ROW("16", "4", "5") ROW("24", "6", "7") ROW("32", "8", "9")
                                 ROW("40", "10", "11") "dec %[n]\n\tjnz 1b"
                         : [n] "+r"(m)
                         : [x] "r"(x)
                         : CLOB);
        break;
    case 3:
        __asm__ volatile("1:\n\t" U3("0", "8") U3("1", "9") U3("2", "10") U3("3", "11") U3("4", "12") U3("5", "8")
                             U3("6", "9") U3("7", "10") "dec %[n]\n\tjnz 1b"
                         : [n] "+r"(m)
                         :
                         : CLOB);
        break;
    default:
        __asm__ volatile("1:\n\t" U4("0", "1", "8") U4("2", "3", "9") U4("4", "5", "10") U4("6", "7", "11")
                         "dec %[n]\n\tjnz 1b"
                         : [n] "+r"(m)
                         :
                         : CLOB);
        break;
    }
    return cpu_now() - t;
}
#endif

int main(int argc, char **argv) {
    double seconds = 0.3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
            return 2;
        }
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("{\"skipped\": \"this CPU has no AVX2/FMA\"}\n");
        return 0;
    }
    /* multiply-adds per iteration of each loop (vpmaddubsw: 32, vpmaddwd: 16, vfmadd231ps: 8) */
    const char *names[] = {"fma", "madd+add", "kernel", "ubsw+wd+add", "2ubsw+addw"};
    const double macs[] = {8 * 8, 8 * 16, 12 * 16, 8 * 32, 8 * 32};
    double best[5] = {0};
    for (int pass = 0; pass < 5; pass++)
        for (int k = 0; k < 5; k++) {
            long n = 1000000;
            double t = run_kind(k, n);
            n = (long)(n * seconds / 5 / (t > 1e-6 ? t : 1e-6)) + 1;
            t = run_kind(k, n);
            double r = 2.0 * macs[k] * (double)n / t / 1e9;
            if (r > best[k]) best[k] = r;
        }
    printf("{\"unit\": \"G flop or op / s (2 per multiply-add), CPU time, best of 5\"");
    for (int k = 0; k < 5; k++) printf(", \"%s\": %.1f", names[k], best[k]);
    for (int k = 1; k < 5; k++) printf(", \"%s / fma\": %.2f", names[k], best[k] / best[0]);
    printf("}\n");
    return 0;
#else
    (void)seconds;
    printf("{\"skipped\": \"x86-64 with GCC or Clang only\"}\n");
    return 0;
#endif
}
