/* cpus.c — the CPUs this process may use (see cpus.h): the affinity mask (sched_getaffinity) and
 * the CPU quota of its cgroup, v2 (cpu.max) or v1 (cpu.cfs_quota_us / cpu.cfs_period_us), found
 * through /proc/self/cgroup and /proc/self/mountinfo; every file is read with a bounded buffer
 * and anything unexpected means "no limit known". */
#include "core/cpus.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XF_PATH 4096

int xf_affinity_cpus(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    return 0;
}

/* ceil(quota / period) for positive values, else 0. */
static int quota_threads(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return 0;
    long long n = (quota + period - 1) / period;
    return n > INT_MAX ? INT_MAX : (int)n;
}

int xf_cpu_max_threads(const char *text) {
    long long quota, period;
    char tail;
    if (!text || sscanf(text, "%lld %lld %c", &quota, &period, &tail) != 2) return 0; /* "max ..." too */
    return quota_threads(quota, period);
}

/* The first line of a small file into buf (NUL-terminated); 0 on success. */
static int read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    return ok ? 0 : -1;
}

/* The quota of one cgroup directory (0: none or unreadable). */
static int dir_limit(const char *dir, int v2) {
    char path[2 * XF_PATH + 64], a[128], b[128];
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        return read_line(path, a, sizeof a) ? 0 : xf_cpu_max_threads(a);
    }
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (read_line(path, a, sizeof a)) return 0;
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if (read_line(path, b, sizeof b)) return 0;
    return quota_threads(atoll(a), atoll(b));
}

/* Does the comma-separated list `opts` hold `name`? */
static int has_opt(const char *opts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = opts; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == ' ' || p[n] == '\n')) return 1;
    return 0;
}

/* Mount point and mount root of the cgroup2 hierarchy (v2) or of the v1 hierarchy with the cpu
 * controller, from /proc/self/mountinfo; 0 on success. */
static int find_mount(int v2, char *point, char *root, size_t cap) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return -1;
    char line[XF_PATH], r[XF_PATH], m[XF_PATH], fstype[64], super[1024];
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2) continue;
        if (sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2) continue;
        if (v2 ? strcmp(fstype, "cgroup2") != 0 : strcmp(fstype, "cgroup") != 0 || !has_opt(super, "cpu")) continue;
        if (strlen(r) >= cap || strlen(m) >= cap) continue;
        strcpy(root, r), strcpy(point, m);
        found = 0;
    }
    fclose(f);
    return found;
}

/* The process's cgroup path in the v2 hierarchy ("0::PATH") or the v1 one with the cpu controller. */
static int find_cgroup(int v2, char *path, size_t cap) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[XF_PATH];
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c1 = '\0', *c2 = '\0'; /* line: the hierarchy id, c1 + 1: its controllers */
        if (v2 ? strcmp(line, "0") != 0 || c1[1] != '\0' : !has_opt(c1 + 1, "cpu")) continue;
        char *p = c2 + 1;
        p[strcspn(p, "\n")] = '\0';
        if (strlen(p) >= cap) continue;
        strcpy(path, p);
        found = 0;
    }
    fclose(f);
    return found;
}

/* The smallest quota on the way from the process's cgroup up to the hierarchy's mount (0: none). */
static int cgroup_limit(int v2) {
    char point[XF_PATH], root[XF_PATH], cg[XF_PATH], dir[2 * XF_PATH];
    if (find_mount(v2, point, root, sizeof point) || find_cgroup(v2, cg, sizeof cg)) return 0;
    /* inside a container the mount's root may be the container's own cgroup */
    const char *rel = cg;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(cg, root, rl) == 0 && (cg[rl] == '/' || cg[rl] == '\0')) rel = cg + rl;
    snprintf(dir, sizeof dir, "%s%s", point, strcmp(rel, "/") == 0 ? "" : rel);
    size_t base = strlen(point);
    int best = 0;
    for (;;) {
        int q = dir_limit(dir, v2);
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < base) break;
        *slash = '\0';
    }
    return best;
}

int xf_usable_cpus(void) {
    int n = xf_affinity_cpus();
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (c > INT_MAX ? INT_MAX : (int)c) : 1;
    }
    for (int v2 = 1; v2 >= 0; v2--) {
        int q = cgroup_limit(v2);
        if (q > 0 && q < n) n = q;
    }
    return n > 0 ? n : 1;
}
