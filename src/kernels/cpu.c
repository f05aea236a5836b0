/* cpu.c — the kernels' instruction-set level (see cpu.h): CPUID and XGETBV asked once (CPUID traps
 * to the hypervisor in virtual machines, ~17 us here, so never per call), Linux's permission for
 * AMX tile data asked once, the XF_ISA override parsed once, and the test cap. */
#include "kernels/cpu.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr.h"

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <cpuid.h>
#define XF_X86 1
#endif

#define F_DETECTED (1 << 30)

static atomic_int g_cpu = 0;                  /* F_DETECTED | level << 8 | features */
static atomic_int g_cap = XF_ISA_AVX512;      /* test cap (the top level: none) */
static atomic_int g_env = -1;                 /* XF_ISA, parsed: level | F_NO_AMX, or XF_ISA_AVX512 */
#define F_NO_AMX 16                           /* XF_ISA=avx512: AVX-512 without AMX */
#define F_NO_AVXVNNI 32                       /* XF_ISA=avx2: AVX2 without AVX-VNNI */
#define F_AMX (XF_CPU_AMX_INT8 | XF_CPU_AMX_BF16)

#ifdef XF_X86
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (unsigned long long)hi << 32 | lo;
}

/* Linux keeps AMX's 8 KiB of tile state off until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM
 * for XFEATURE_XTILEDATA, kernel 5.16+); without the permission the first tile instruction is a
 * fault. Process-wide and idempotent. Elsewhere: no AMX. */
static int amx_permitted(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
}
#endif

static int detect(void) {
    int level = XF_ISA_SCALAR, feat = 0;
#ifdef XF_X86
    unsigned a, b, c, d, max = __get_cpuid_max(0, NULL);
    if (max >= 7 && __get_cpuid(1, &a, &b, &c, &d)) {
        const unsigned c1 = c;
        unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0, ext = 0;
        __cpuid_count(7, 0, a, b7, c7, d7);
        __cpuid_count(7, 1, a71, b, c, d);
        if (__get_cpuid(0x80000001, &a, &b, &c, &d)) ext = c;
        const int osxsave = c1 >> 27 & 1;
        const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
        const int ymm = (xcr0 & 6) == 6, zmm = (xcr0 & 0xe6) == 0xe6;
        const int v3 = ymm && (c1 >> 12 & 1) /* FMA */ && (c1 >> 28 & 1) /* AVX */ && (c1 >> 29 & 1) /* F16C */ &&
                       (c1 >> 22 & 1) /* MOVBE */ && (b7 >> 5 & 1) /* AVX2 */ && (b7 >> 3 & 1) /* BMI1 */ &&
                       (b7 >> 8 & 1) /* BMI2 */ && (ext >> 5 & 1) /* LZCNT */;
        const int v4 = v3 && zmm && (b7 >> 16 & 1) /* F */ && (b7 >> 17 & 1) /* DQ */ && (b7 >> 28 & 1) /* CD */ &&
                       (b7 >> 30 & 1) /* BW */ && (b7 >> 31 & 1) /* VL */;
        level = v4 ? XF_ISA_AVX512 : v3 ? XF_ISA_AVX2 : XF_ISA_SCALAR;
        if (v4 && (c7 >> 11 & 1)) feat |= XF_CPU_AVX512_VNNI;
        if (v4 && (a71 >> 5 & 1)) feat |= XF_CPU_AVX512_BF16;
        if (v4 && (c7 >> 1 & 1)) feat |= XF_CPU_AVX512_VBMI;
        if (v3 && (a71 >> 4 & 1)) feat |= XF_CPU_AVX_VNNI;
        /* AMX: TILE (CPUID 7.0 EDX 24) with INT8 (25) / BF16 (22), XCR0's tile config and data
         * (bits 17, 18) enabled by the OS, and the process's permission */
        if (v4 && (d7 >> 24 & 1) && (xcr0 & 0x60000) == 0x60000 && ((d7 >> 25 & 1) || (d7 >> 22 & 1)) &&
            amx_permitted())
            feat |= ((d7 >> 25 & 1) ? XF_CPU_AMX_INT8 : 0) | ((d7 >> 22 & 1) ? XF_CPU_AMX_BF16 : 0);
    }
#endif
    return F_DETECTED | level << 8 | feat;
}

static int cpu_word(void) {
    int w = atomic_load_explicit(&g_cpu, memory_order_relaxed);
    if (!w) {
        w = detect();
        atomic_store_explicit(&g_cpu, w, memory_order_relaxed);
    }
    return w;
}

static int env_level(void) {
    int e = atomic_load_explicit(&g_env, memory_order_relaxed);
    if (e < 0) {
        const char *s = getenv("XF_ISA");
        e = XF_ISA_AVX512;
        if (s && strcmp(s, "scalar") == 0) e = XF_ISA_SCALAR;
        if (s && strcmp(s, "avx2") == 0) e = XF_ISA_AVX2 | F_NO_AVXVNNI;
        if (s && strcmp(s, "avxvnni") == 0) e = XF_ISA_AVX2;
        if (s && strcmp(s, "avx512") == 0) e = XF_ISA_AVX512 | F_NO_AMX;
        atomic_store_explicit(&g_env, e, memory_order_relaxed);
    }
    return e;
}

xf_isa_level_t xf_isa_cpu_level(void) { return (xf_isa_level_t)(cpu_word() >> 8 & 0xff); }

xf_isa_level_t xf_isa_level(void) {
    int l = xf_isa_cpu_level(), e = env_level() & ~(F_NO_AMX | F_NO_AVXVNNI), c = atomic_load_explicit(&g_cap, memory_order_relaxed);
    l = l < e ? l : e;
    return (xf_isa_level_t)(l < c ? l : c);
}

int xf_cpu_has(int f) {
    if ((f & F_AMX) && (env_level() & F_NO_AMX)) return 0;
    if (f == XF_CPU_AVX_VNNI)
        return !(env_level() & F_NO_AVXVNNI) && xf_isa_level() >= XF_ISA_AVX2 && (cpu_word() & f) == f;
    return xf_isa_level() == XF_ISA_AVX512 && (cpu_word() & f) == f;
}

xf_isa_level_t xf_isa_cap(xf_isa_level_t level) {
    return (xf_isa_level_t)atomic_exchange(&g_cap, (int)level);
}

const char *xf_isa_level_name(xf_isa_level_t level) {
    return level == XF_ISA_AVX512 ? "avx512" : level == XF_ISA_AVX2 ? "avx2" : "scalar";
}

const char *xf_cpu_features(void) {
    static _Thread_local char buf[96];
    static const struct { int f; const char *name; } ext[] = {
        {XF_CPU_AVX512_VNNI, "vnni"}, {XF_CPU_AVX512_BF16, "bf16"}, {XF_CPU_AVX512_VBMI, "vbmi"},
        {XF_CPU_AMX_INT8, "amx-int8"}, {XF_CPU_AMX_BF16, "amx-bf16"},
        {XF_CPU_AVX_VNNI, "avx-vnni"}};
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", xf_isa_level_name(xf_isa_level()));
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (xf_cpu_has(ext[i].f) && n < sizeof buf) n += (size_t)snprintf(buf + n, sizeof buf - n, " %s", ext[i].name);
    return buf;
}
