/* error.c — thread-local error messages behind xf_errmsg(). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define XF_ERRMSG_MAX 1024

static _Thread_local char g_msg[XF_ERRMSG_MAX];

const char *xf_errmsg(void) { return g_msg; }

void xf_error_clear(void) { g_msg[0] = '\0'; }

xf_status xf_error(xf_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return st;
}

xf_status xf_error_wrap(xf_status st, const char *fmt, ...) {
    /* Shift the old message right and write "<prefix>: " in front, truncating at the end. */
    char prefix[XF_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = n < 0 ? 0 : (size_t)n;
    if (plen > XF_ERRMSG_MAX - 3) plen = XF_ERRMSG_MAX - 3;
    size_t olen = strlen(g_msg), room = XF_ERRMSG_MAX - 1 - plen - 2;
    if (olen > room) olen = room;
    memmove(g_msg + plen + 2, g_msg, olen);
    memcpy(g_msg, prefix, plen);
    g_msg[plen] = ':';
    g_msg[plen + 1] = ' ';
    g_msg[plen + 2 + olen] = '\0';
    return st;
}

const char *xf_status_str(xf_status st) {
    switch (st) {
    case XF_OK: return "ok";
    case XF_ERR_INVALID_ARG: return "invalid argument";
    case XF_ERR_IO: return "I/O error";
    case XF_ERR_FORMAT: return "format error";
    case XF_ERR_UNSUPPORTED: return "unsupported";
    case XF_ERR_NOMEM: return "out of memory";
    case XF_ERR_NOT_FOUND: return "not found";
    case XF_ERR_RANGE: return "out of range";
    }
    return "unknown status";
}

const char *xf_version(void) { return XFMR_VERSION; }

int xf_version_number(void) { return XFMR_VERSION_NUMBER; }
