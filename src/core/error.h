/* error.h — internal error reporting: set a thread-local message and return a status. */
#ifndef XF_CORE_ERROR_H
#define XF_CORE_ERROR_H

#include "xfmr.h"

#if defined(__GNUC__)
#define XF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XF_PRINTF(a, b)
#endif

/* Record a message for xf_errmsg() and return st, so callers write `return xf_error(...)`. */
xf_status xf_error(xf_status st, const char *fmt, ...) XF_PRINTF(2, 3);
/* Prefix the current message with context ("loading X: <old message>"); returns st. */
xf_status xf_error_wrap(xf_status st, const char *fmt, ...) XF_PRINTF(2, 3);
/* Forget the last message. */
void xf_error_clear(void);

#endif
