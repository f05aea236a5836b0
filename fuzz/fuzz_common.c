/* fuzz_common.c — temporary-file plumbing for the libFuzzer harnesses (see fuzz_common.h). */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];
static char g_slots[8][512];
static unsigned g_slot;

static char *slot(void) { return g_slots[g_slot++ % 8]; }

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup(void) {
    if (g_dir[0]) rm_tree(g_dir);
}

const char *fz_dir(void) {
    if (!g_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_dir, sizeof g_dir, "%s/xfmr-fuzz-XXXXXX", base);
        if (!mkdtemp(g_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    return g_dir;
}

const char *fz_write(const char *name, const uint8_t *data, size_t size) {
    char *p = slot();
    snprintf(p, 512, "%s/%s", fz_dir(), name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("fuzz: open");
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("fuzz: write");
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
    return p;
}

const char *fz_mkdir(const char *name) {
    char *p = slot();
    snprintf(p, 512, "%s/%s", fz_dir(), name);
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        perror("fuzz: mkdir");
        abort();
    }
    return p;
}

void fz_unlink(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", fz_dir(), name);
    rm_tree(p);
}

const char *fz_src(const char *rel) {
    char *p = slot();
    snprintf(p, 512, "%s/%s", XF_SOURCE_DIR, rel);
    return p;
}

int fz_split2(const uint8_t *data, size_t size, const uint8_t **a, size_t *na,
              const uint8_t **b, size_t *nb) {
    const uint8_t *sep = size >= 4 ? memmem(data, size, "\n--\n", 4) : NULL;
    *a = data;
    if (!sep) {
        *na = size;
        *b = data + size;
        *nb = 0;
        return 1;
    }
    *na = (size_t)(sep - data);
    *b = sep + 4;
    *nb = size - *na - 4;
    return 2;
}
