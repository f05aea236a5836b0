/* abi.c — struct_size checks of the public parameter and info structs (see abi.h). */
#include "core/abi.h"

#include <string.h>

#include "core/error.h"

xf_status xf_struct_in(void *dst, size_t size, const void *src, size_t min, const char *what) {
    size_t got;
    memcpy(&got, src, sizeof got);
    if (got < min || got > size)
        return xf_error(XF_ERR_INVALID_ARG, "%s.struct_size %zu: this library knows sizes %zu .. %zu (initialise it "
                        "with its *_default_params() function; a larger size means a newer xfmr.h than the library)",
                        what, got, min, size);
    memcpy(dst, src, got);
    return XF_OK;
}

xf_status xf_struct_out(void *dst, const void *src, size_t size, size_t min, const char *what) {
    size_t room;
    memcpy(&room, dst, sizeof room);
    if (room < min)
        return xf_error(XF_ERR_INVALID_ARG, "%s.struct_size %zu: set it to sizeof(%s) (at least %zu)", what, room, what,
                        min);
    if (room > size) memset((char *)dst + size, 0, room - size);
    memcpy((char *)dst + sizeof room, (const char *)src + sizeof room, (room < size ? room : size) - sizeof room);
    return XF_OK;
}
