/* cpus.h — how many CPUs this process may use: the default thread count.
 *
 * Not the online cores: a process pinned with taskset / numactl / a container's cpuset sees only
 * its affinity mask, and a container limited by a CPU quota (cgroup v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us) gets quota / period CPUs of time however many cores the
 * machine has. Threads beyond either limit only wait for each other. */
#ifndef XF_CORE_CPUS_H
#define XF_CORE_CPUS_H

/* min(CPUs in the affinity mask, ceil(cgroup quota / period) over the process's cgroup and its
 * ancestors), at least 1; the online cores where neither can be read. */
int xf_usable_cpus(void);
/* The affinity mask's CPU count (0 if it cannot be read). */
int xf_affinity_cpus(void);
/* ceil(quota / period) of a cgroup v2 cpu.max text ("QUOTA PERIOD" or "max PERIOD"): 0 for no
 * limit or text that is not that format. */
int xf_cpu_max_threads(const char *text);

#endif
