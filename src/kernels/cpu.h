/* cpu.h — which instruction sets the kernels may use: one place that asks the CPU (CPUID and
 * XGETBV, once) and applies the XF_ISA override, so that every runtime dispatch in src/kernels
 * agrees.
 *
 * Levels: XF_ISA_SCALAR (portable C), XF_ISA_AVX2 (x86-64-v3: AVX2, FMA, F16C, BMI1/2, LZCNT,
 * MOVBE), XF_ISA_AVX512 (x86-64-v4: AVX-512 F, BW, CD, DQ, VL). Extensions on top of a level
 * (AVX-512 VNNI, AVX-512 BF16, AMX) count only at that level; AMX also needs the OS to enable its
 * state and, on Linux, the process's permission (asked once, at detection). AVX-VNNI (the VEX
 * vpdpbusd of Alder Lake, Sierra Forest and later: int8 dot products without AVX-512) counts from
 * the AVX2 level up.
 *
 * XF_ISA=scalar|avx2|avxvnni|avx512 in the environment lowers the level (never raises it above
 * what the CPU has): `XF_ISA=avx2 xfmr embed ...` runs the AVX2 kernels on an AVX-512 machine,
 * which is how the AVX2 paths are benchmarked here, `XF_ISA=avxvnni` the same with AVX-VNNI (a CPU
 * of the Sierra Forest kind), `XF_ISA=avx512` keeps AVX-512 but not AMX, and tests switch levels
 * with xf_isa_cap (which leaves AMX on at the AVX-512 level, AVX-VNNI at the AVX2 one). Read once,
 * at the first kernel call. */
#ifndef XF_KERNELS_CPU_H
#define XF_KERNELS_CPU_H

typedef enum xf_isa_level_t { XF_ISA_SCALAR = 0, XF_ISA_AVX2 = 1, XF_ISA_AVX512 = 2 } xf_isa_level_t;

/* Optional features, each also needing its level. */
enum {
    XF_CPU_AVX512_VNNI = 1 << 0, /* vpdpbusd on zmm/ymm (EVEX) */
    XF_CPU_AVX512_BF16 = 1 << 1, /* vdpbf16ps, vcvtne2ps2bf16 */
    XF_CPU_AVX512_VBMI = 1 << 2, /* vpermb, vpermt2b, vpmultishiftqb */
    XF_CPU_AMX_INT8 = 1 << 3,    /* AMX tiles with tdpbsud & co. (int8 x int8 -> int32) */
    XF_CPU_AMX_BF16 = 1 << 4,    /* AMX tiles with tdpbf16ps */
    XF_CPU_AVX_VNNI = 1 << 5,    /* vpdpbusd on ymm, VEX-encoded (from the AVX2 level) */
};

/* The level kernels use: the CPU's, lowered by XF_ISA and by xf_isa_cap. */
xf_isa_level_t xf_isa_level(void);
/* 1 if the CPU has feature f (XF_CPU_*) and the level allows it. */
int xf_cpu_has(int f);
/* The CPU's own level, ignoring XF_ISA and the cap. */
xf_isa_level_t xf_isa_cpu_level(void);
/* Caps the level at `level` (tests, benchmarks); returns the previous cap. Not thread-safe against
 * kernels running at the same time. */
xf_isa_level_t xf_isa_cap(xf_isa_level_t level);
const char *xf_isa_level_name(xf_isa_level_t level);

#endif
