/* SPDX-License-Identifier: MIT */
/*
 * topo: the machine's topology through hwloc, loaded once: cache sizes and line size, core and PU
 * counts, CPU kinds on hybrid parts, PU pairs chosen by how close they are, binding with verification,
 * and XML export. PUs are named by their OS index (what taskset and /proc/cpuinfo call CPU n).
 */
#ifndef COMMON_TOPO_H
#define COMMON_TOPO_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct topo {
	hwloc_topology_t topology;
	int home_pu;	/* the PU whose caches describe this run; -1: none chosen (the first caches) */
};

/* Loads this machine's topology (only the PUs this process may use). Returns 0 or -errno. */
int topo_init(struct topo *t);
/* Loads a synthetic topology, e.g. "Package:2 L3Cache:1 Core:4 PU:2" (for tests). 0 or -errno. */
int topo_init_synthetic(struct topo *t, const char *description);
void topo_release(struct topo *t);

unsigned topo_nr_pus(const struct topo *t);
unsigned topo_nr_cores(const struct topo *t);
unsigned topo_nr_packages(const struct topo *t);
unsigned topo_nr_numa_nodes(const struct topo *t);

/*
 * Size in bytes of the data (or unified) cache at level 1-5 above the home PU (topo_set_home_pu),
 * or of the first one hwloc lists when none is set; 0 if there is none. On a hybrid CPU the
 * first one may be another kind of core's: an E-core cluster's L2, or an A55's on an RK3588.
 */
uint64_t topo_cache_bytes(const struct topo *t, unsigned level);
/* The cache line size: L1d's from hwloc, else sysconf's, else 64. Never 0. */
unsigned topo_line_bytes(const struct topo *t);

/* Number of CPU kinds (1 on a homogeneous CPU, 2+ on hybrid parts; 0 if hwloc does not know). */
unsigned topo_nr_cpu_kinds(const struct topo *t);

/* The CPU kind (hwloc's index) a PU belongs to, or -1 when hwloc knows no kinds. */
int topo_pu_kind(const struct topo *t, unsigned pu);

/* The kind of the largest cores: the highest efficiency value, which hwloc defines as the greatest
 * intrinsic performance (P-cores, Cortex-A76 beside A55); the last kind where hwloc cannot rank
 * them; -1 when it knows no kinds. */
int topo_biggest_kind(const struct topo *t);

/* The first PU of a kind among allowed (NULL: any PU), or -1. */
int topo_first_pu_of_kind(const struct topo *t, int kind, hwloc_const_bitmap_t allowed);

/* The PUs of a kind, newly allocated (hwloc_bitmap_free it), or NULL. */
hwloc_bitmap_t topo_kind_cpuset(const struct topo *t, int kind);

/* "IntelCore, efficiency 1" for a kind (its CoreType where hwloc has one). Returns buf. */
const char *topo_kind_describe(const struct topo *t, int kind, char *buf, size_t len);

/* From now on, caches and the line size are the ones above this PU; -1: the first ones again. */
void topo_set_home_pu(struct topo *t, int pu);

/* The CPU model string hwloc found, runs of blanks made one (a VM's name can end in a dozen
 * spaces), or "unknown CPU". Returns buf. */
const char *topo_cpu_model(const struct topo *t, char *buf, size_t len);

/*
 * One line for the learner, e.g.
 * "AMD EPYC | 1 package, 2 cores, 2 PUs | L1d 32 KiB, L2 1 MiB, L3 32 MiB, line 64 B"
 * plus the CPU kinds on hybrid parts. Returns buf.
 */
const char *topo_describe(const struct topo *t, char *buf, size_t len);

/* How close two PUs are: the nearest thing they share, from nearest to farthest. */
enum topo_relation {
	TOPO_SAME_PU,		/* one PU: the two threads take turns */
	TOPO_SMT_SIBLINGS,	/* two hardware threads of one core: share L1 and L2 */
	TOPO_SHARED_L2,		/* different cores under one L2 (e.g. an E-core cluster) */
	TOPO_SHARED_L3,		/* different cores sharing only the L3 */
	TOPO_SAME_PACKAGE,	/* same package, same NUMA node, no shared cache */
	TOPO_OTHER_NUMA,	/* same package, different NUMA node (sub-NUMA clustering) */
	TOPO_OTHER_PACKAGE,	/* different packages (sockets) */
	TOPO_NR_RELATIONS
};

/* "same-pu", "smt-siblings", "shared-l2", "shared-l3", "same-package", "other-numa", ... */
const char *topo_relation_name(enum topo_relation rel);

/* The relation between two PUs given by OS index. Returns -ENOENT if either PU is unknown. */
int topo_relation_of(const struct topo *t, unsigned pu_a, unsigned pu_b,
		     enum topo_relation *rel);

/*
 * Picks two PUs (OS indices) with the given relation, preferring the lowest logical indices, among
 * the PUs in allowed (OS indices; NULL: all). For TOPO_SAME_PU both are the same PU.
 * Returns 0, or -ENOENT if there is no such pair.
 */
int topo_pick_pair(const struct topo *t, enum topo_relation rel, hwloc_const_bitmap_t allowed,
		   unsigned *pu_a, unsigned *pu_b);

/*
 * The PUs in allowed (NULL: all), as OS indices in hwloc's logical order, which walks the machine
 * core by core, cache by cache, package by package: PUs that share something are neighbours.
 * Writes at most max; returns how many there are.
 */
size_t topo_pus_in_order(const struct topo *t, hwloc_const_bitmap_t allowed, unsigned *pus,
			 size_t max);

/* A run of neighbouring positions in such a list whose PUs share one object (a cache, a package). */
struct topo_group {
	size_t first, last;	/* positions in the list, both included */
};

/*
 * The groups of two or more PUs of pus[] (OS indices in logical order) under each object of a
 * type: HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_PACKAGE, HWLOC_OBJ_NUMANODE. Writes at most
 * max; returns how many it wrote. For a heatmap's boxes.
 */
size_t topo_pu_groups(const struct topo *t, hwloc_obj_type_t type, const unsigned *pus, size_t nr,
		      struct topo_group *groups, size_t max);

/*
 * The PUs this process may run on now (its affinity: taskset, cpusets), as a new bitmap the caller
 * frees with hwloc_bitmap_free(); NULL on failure. Call it before pinning any thread.
 */
hwloc_bitmap_t topo_allowed_pus(const struct topo *t);

/* The result of binding: what was asked, and where the thread was then seen running. */
struct topo_binding {
	unsigned pu_requested;
	int pu_observed;	/* OS index of the PU it ran on right after binding; -1 unknown */
	bool verified;		/* pu_observed == pu_requested */
};

/*
 * Binds the calling thread to one PU and checks where it then runs.
 * Returns 0, or -errno (-ENOSYS: binding not supported here; -EINVAL/-EPERM: refused, e.g. the PU
 * is outside this process's cpuset or a container forbids it).
 */
int topo_bind_thread(const struct topo *t, unsigned pu, struct topo_binding *binding);

/* The OS index of the PU the calling thread last ran on, or -1. */
int topo_current_pu(const struct topo *t);

/* Writes the topology as hwloc XML (for the results bundle). Returns 0 or -errno. */
int topo_export_xml(const struct topo *t, const char *path);

/* MemAvailable from /proc/meminfo in bytes (hwloc's NUMA sizes can be wrong in a VM); 0 unknown. */
uint64_t topo_mem_available_bytes(void);

/* Any /proc/meminfo field given in kB ("KernelStack", "SUnreclaim"), in bytes; 0 unknown. */
uint64_t topo_meminfo_bytes(const char *field);

#endif
