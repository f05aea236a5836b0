/* dtype.h — element types of tensors as stored in model files, with their byte sizes. */
#ifndef XF_CORE_DTYPE_H
#define XF_CORE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum xf_dtype {
    XF_DT_F32 = 0,
    XF_DT_F16,
    XF_DT_BF16,
    XF_DT_F64,
    XF_DT_I64,
    XF_DT_I32,
    XF_DT_I16,
    XF_DT_I8,
    XF_DT_U8,
    XF_DT_BOOL,
    XF_DT_COUNT
} xf_dtype;

/* Bytes per element (all current dtypes are whole bytes). */
size_t xf_dtype_size(xf_dtype t);
/* Canonical upper-case name as safetensors spells it ("F32", "BF16", ...). */
const char *xf_dtype_name(xf_dtype t);
/* Parse a safetensors dtype name; returns 0 and sets *out, or -1 if unknown. */
int xf_dtype_parse(const char *name, xf_dtype *out);

/* Scalar conversions used by loaders and the reference kernels. */
float xf_f16_to_f32(uint16_t h);
float xf_bf16_to_f32(uint16_t b);
/* float32 -> bfloat16 (the upper half), rounded to nearest even (NaN kept a quiet NaN). */
uint16_t xf_f32_to_bf16(float f);
/* float32 -> IEEE half, rounded to nearest even (overflow to inf, NaN kept a quiet NaN). */
uint16_t xf_f32_to_f16(float f);
/* Convert n elements of a float dtype (F32/F16/BF16/F64) to float32; returns -1 for others. */
int xf_convert_to_f32(xf_dtype t, const void *src, float *dst, size_t n);

#endif
