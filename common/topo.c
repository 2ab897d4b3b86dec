// SPDX-License-Identifier: MIT
// topo: topology, caches, PU pairs and binding through hwloc (see topo.h).
#include "topo.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "memlimit.h"

static int load(struct topo *t, const char *synthetic)
{
	t->home_pu = -1;
	if (hwloc_topology_init(&t->topology) != 0)
		return -errno ? -errno : -ENOMEM;
	if (synthetic && hwloc_topology_set_synthetic(t->topology, synthetic) != 0) {
		hwloc_topology_destroy(t->topology);
		t->topology = NULL;
		return -EINVAL;
	}
	if (hwloc_topology_load(t->topology) != 0) {
		int err = errno ? -errno : -EIO;

		hwloc_topology_destroy(t->topology);
		t->topology = NULL;
		return err;
	}
	return 0;
}

int topo_init(struct topo *t)
{
	return load(t, NULL);
}

int topo_init_synthetic(struct topo *t, const char *description)
{
	return load(t, description);
}

void topo_release(struct topo *t)
{
	if (t->topology)
		hwloc_topology_destroy(t->topology);
	t->topology = NULL;
}

static unsigned count(const struct topo *t, hwloc_obj_type_t type)
{
	int n = hwloc_get_nbobjs_by_type(t->topology, type);

	return n > 0 ? (unsigned)n : 0;
}

unsigned topo_nr_pus(const struct topo *t)
{
	return count(t, HWLOC_OBJ_PU);
}

unsigned topo_nr_cores(const struct topo *t)
{
	unsigned n = count(t, HWLOC_OBJ_CORE);

	return n ? n : topo_nr_pus(t);	// some platforms report no cores: treat each PU as one
}

unsigned topo_nr_packages(const struct topo *t)
{
	unsigned n = count(t, HWLOC_OBJ_PACKAGE);

	return n ? n : 1;
}

unsigned topo_nr_numa_nodes(const struct topo *t)
{
	unsigned n = count(t, HWLOC_OBJ_NUMANODE);

	return n ? n : 1;
}

// The data or unified cache of a level above the home PU, or the first one hwloc lists.
static hwloc_obj_t home_cache(const struct topo *t, unsigned level)
{
	static const hwloc_obj_type_t types[] = {
		HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L4CACHE,
		HWLOC_OBJ_L5CACHE,
	};

	if (level < 1 || level > 5)
		return NULL;
	hwloc_obj_t pu = t->home_pu >= 0 ? hwloc_get_pu_obj_by_os_index(t->topology,
									 (unsigned)t->home_pu)
					 : NULL;
	if (pu)
		return hwloc_get_ancestor_obj_by_type(t->topology, types[level - 1], pu);
	return hwloc_get_obj_by_type(t->topology, types[level - 1], 0);
}

uint64_t topo_cache_bytes(const struct topo *t, unsigned level)
{
	hwloc_obj_t cache = home_cache(t, level);

	return cache ? cache->attr->cache.size : 0;
}

void topo_set_home_pu(struct topo *t, int pu)
{
	t->home_pu = pu >= 0 && hwloc_get_pu_obj_by_os_index(t->topology, (unsigned)pu) ? pu : -1;
}

unsigned topo_line_bytes(const struct topo *t)
{
	hwloc_obj_t l1 = home_cache(t, 1);

	if (l1 && l1->attr->cache.linesize > 0)
		return l1->attr->cache.linesize;
	long sys = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
	return sys > 0 ? (unsigned)sys : 64;
}

unsigned topo_nr_cpu_kinds(const struct topo *t)
{
	int n = hwloc_cpukinds_get_nr(t->topology, 0);

	return n > 0 ? (unsigned)n : 0;
}

int topo_pu_kind(const struct topo *t, unsigned pu)
{
	hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(t->topology, pu);

	if (!obj || topo_nr_cpu_kinds(t) == 0)
		return -1;
	return hwloc_cpukinds_get_by_cpuset(t->topology, obj->cpuset, 0);
}

static int kind_efficiency(const struct topo *t, int kind)
{
	int efficiency = -1;

	if (hwloc_cpukinds_get_info(t->topology, (unsigned)kind, NULL, &efficiency, NULL, NULL, 0))
		return -1;
	return efficiency;
}

int topo_biggest_kind(const struct topo *t)
{
	int kinds = (int)topo_nr_cpu_kinds(t), best = kinds - 1;

	for (int k = 0; k < kinds; k++)
		if (kind_efficiency(t, k) > kind_efficiency(t, best))
			best = k;
	return best;
}

hwloc_bitmap_t topo_kind_cpuset(const struct topo *t, int kind)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (set && (kind < 0 ||
		    hwloc_cpukinds_get_info(t->topology, (unsigned)kind, set, NULL, NULL, NULL, 0))) {
		hwloc_bitmap_free(set);
		return NULL;
	}
	return set;
}

int topo_first_pu_of_kind(const struct topo *t, int kind, hwloc_const_bitmap_t allowed)
{
	hwloc_bitmap_t set = topo_kind_cpuset(t, kind);
	int pu;

	if (!set)
		return -1;
	if (allowed)
		hwloc_bitmap_and(set, set, allowed);
	pu = hwloc_bitmap_first(set);
	hwloc_bitmap_free(set);
	return pu;
}

const char *topo_kind_describe(const struct topo *t, int kind, char *buf, size_t len)
{
	unsigned nr_infos = 0;
	struct hwloc_info_s *infos = NULL;
	int efficiency = -1;
	const char *type = "a kind of core";

	snprintf(buf, len, "unknown kind");
	if (kind < 0 || hwloc_cpukinds_get_info(t->topology, (unsigned)kind, NULL, &efficiency,
						&nr_infos, &infos, 0))
		return buf;
	for (unsigned i = 0; i < nr_infos; i++)
		if (!strcmp(infos[i].name, "CoreType"))
			type = infos[i].value;
	snprintf(buf, len, "%s, efficiency %d", type, efficiency);
	return buf;
}

static const char *hwloc_cpu_model(const struct topo *t)
{
	hwloc_obj_t obj = NULL;

	while ((obj = hwloc_get_next_obj_by_type(t->topology, HWLOC_OBJ_PACKAGE, obj))) {
		const char *model = hwloc_obj_get_info_by_name(obj, "CPUModel");

		if (model && *model)
			return model;
	}
	return hwloc_obj_get_info_by_name(hwloc_get_root_obj(t->topology), "CPUModel");
}

const char *topo_cpu_model(const struct topo *t, char *buf, size_t len)
{
	const char *model = hwloc_cpu_model(t);
	size_t used = 0;

	for (const char *c = model ? model : ""; *c && used + 1 < len; c++) {
		bool blank = isspace((unsigned char)*c);

		if (!blank)
			buf[used++] = *c;
		else if (used && buf[used - 1] != ' ' && c[1] && !isspace((unsigned char)c[1]))
			buf[used++] = ' ';
	}
	buf[used] = '\0';
	if (!used)
		snprintf(buf, len, "unknown CPU");
	return buf;
}

static size_t append(char *buf, size_t len, size_t used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static size_t append(char *buf, size_t len, size_t used, const char *fmt, ...)
{
	va_list ap;

	if (used >= len)
		return used;
	va_start(ap, fmt);
	int n = vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
	return n > 0 ? used + (size_t)n : used;
}

static const char *plural(unsigned n)
{
	return n == 1 ? "" : "s";
}

const char *topo_describe(const struct topo *t, char *buf, size_t len)
{
	static const char *const names[] = { "", "L1d", "L2", "L3", "L4", "L5" };
	unsigned packages = topo_nr_packages(t), cores = topo_nr_cores(t), pus = topo_nr_pus(t);
	size_t used = 0;
	char size[32], model[128];

	used = append(buf, len, used, "%s | %u package%s, %u core%s, %u PU%s",
		      topo_cpu_model(t, model, sizeof(model)),
		      packages, plural(packages), cores, plural(cores), pus, plural(pus));
	if (topo_nr_numa_nodes(t) > 1)
		used = append(buf, len, used, ", %u NUMA nodes", topo_nr_numa_nodes(t));
	used = append(buf, len, used, " |");
	for (unsigned level = 1; level <= 5; level++) {
		uint64_t bytes = topo_cache_bytes(t, level);

		if (bytes)
			used = append(buf, len, used, " %s %s,", names[level],
				      cli_format_size(bytes, size, sizeof(size)));
	}
	used = append(buf, len, used, " line %u B", topo_line_bytes(t));

	unsigned kinds = topo_nr_cpu_kinds(t);
	if (kinds > 1) {
		used = append(buf, len, used, " | %u CPU kinds:", kinds);
		hwloc_bitmap_t set = hwloc_bitmap_alloc();
		for (unsigned k = 0; set && k < kinds; k++) {
			int efficiency = -1;
			unsigned nr_infos = 0;
			struct hwloc_info_s *infos = NULL;

			if (hwloc_cpukinds_get_info(t->topology, k, set, &efficiency, &nr_infos,
						    &infos, 0) != 0)
				continue;
			const char *type = NULL;
			for (unsigned i = 0; i < nr_infos; i++)
				if (!strcmp(infos[i].name, "CoreType"))
					type = infos[i].value;
			used = append(buf, len, used, "%s %d PUs (%s, efficiency %d)",
				      k ? "," : "", hwloc_bitmap_weight(set), type ? type : "kind",
				      efficiency);
		}
		hwloc_bitmap_free(set);
	}
	return buf;
}

const char *topo_relation_name(enum topo_relation rel)
{
	static const char *const names[TOPO_NR_RELATIONS] = {
		[TOPO_SAME_PU] = "same-pu",
		[TOPO_SMT_SIBLINGS] = "smt-siblings",
		[TOPO_SHARED_L2] = "shared-l2",
		[TOPO_SHARED_L3] = "shared-l3",
		[TOPO_SAME_PACKAGE] = "same-package",
		[TOPO_OTHER_NUMA] = "other-numa",
		[TOPO_OTHER_PACKAGE] = "other-package",
	};

	return (unsigned)rel < TOPO_NR_RELATIONS ? names[rel] : "unknown";
}

static bool share_ancestor(const struct topo *t, hwloc_obj_t a, hwloc_obj_t b,
			   hwloc_obj_type_t type)
{
	hwloc_obj_t x = hwloc_get_ancestor_obj_by_type(t->topology, type, a);
	hwloc_obj_t y = hwloc_get_ancestor_obj_by_type(t->topology, type, b);

	return x && x == y;
}

static enum topo_relation classify(const struct topo *t, hwloc_obj_t a, hwloc_obj_t b)
{
	if (a == b)
		return TOPO_SAME_PU;
	if (share_ancestor(t, a, b, HWLOC_OBJ_CORE))
		return TOPO_SMT_SIBLINGS;
	if (share_ancestor(t, a, b, HWLOC_OBJ_L2CACHE))
		return TOPO_SHARED_L2;
	if (share_ancestor(t, a, b, HWLOC_OBJ_L3CACHE))
		return TOPO_SHARED_L3;
	if (hwloc_get_nbobjs_by_type(t->topology, HWLOC_OBJ_PACKAGE) > 1 &&
	    !share_ancestor(t, a, b, HWLOC_OBJ_PACKAGE))
		return TOPO_OTHER_PACKAGE;
	if (a->nodeset && b->nodeset && !hwloc_bitmap_intersects(a->nodeset, b->nodeset))
		return TOPO_OTHER_NUMA;
	return TOPO_SAME_PACKAGE;
}

int topo_relation_of(const struct topo *t, unsigned pu_a, unsigned pu_b,
		     enum topo_relation *rel)
{
	hwloc_obj_t a = hwloc_get_pu_obj_by_os_index(t->topology, pu_a);
	hwloc_obj_t b = hwloc_get_pu_obj_by_os_index(t->topology, pu_b);

	if (!a || !b)
		return -ENOENT;
	*rel = classify(t, a, b);
	return 0;
}

int topo_pick_pair(const struct topo *t, enum topo_relation rel, hwloc_const_bitmap_t allowed,
		   unsigned *pu_a, unsigned *pu_b)
{
	unsigned n = topo_nr_pus(t);

	for (unsigned i = 0; i < n; i++) {
		hwloc_obj_t a = hwloc_get_obj_by_type(t->topology, HWLOC_OBJ_PU, i);

		if (allowed && !hwloc_bitmap_isset(allowed, a->os_index))
			continue;
		for (unsigned j = (rel == TOPO_SAME_PU ? i : i + 1); j < n; j++) {
			hwloc_obj_t b = hwloc_get_obj_by_type(t->topology, HWLOC_OBJ_PU, j);

			if (allowed && !hwloc_bitmap_isset(allowed, b->os_index))
				continue;

			if (classify(t, a, b) == rel) {
				*pu_a = a->os_index;
				*pu_b = b->os_index;
				return 0;
			}
		}
	}
	return -ENOENT;
}

size_t topo_pus_in_order(const struct topo *t, hwloc_const_bitmap_t allowed, unsigned *pus,
			 size_t max)
{
	hwloc_obj_t pu = NULL;
	size_t n = 0;

	while ((pu = hwloc_get_next_obj_by_type(t->topology, HWLOC_OBJ_PU, pu))) {
		if (allowed && !hwloc_bitmap_isset(allowed, pu->os_index))
			continue;
		if (n < max)
			pus[n] = pu->os_index;
		n++;
	}
	return n;
}

size_t topo_pu_groups(const struct topo *t, hwloc_obj_type_t type, const unsigned *pus, size_t nr,
		      struct topo_group *groups, size_t max)
{
	hwloc_obj_t obj = NULL;
	size_t n = 0;

	while (n < max && (obj = hwloc_get_next_obj_by_type(t->topology, type, obj))) {
		size_t first = SIZE_MAX, last = 0, members = 0;

		for (size_t i = 0; i < nr; i++) {
			if (!obj->cpuset || !hwloc_bitmap_isset(obj->cpuset, pus[i]))
				continue;
			first = members++ ? first : i;
			last = i;
		}
		// In logical order an object's PUs are neighbours; a list in another order may
		// split them, and then no box can be drawn around them.
		if (members >= 2 && last - first + 1 == members)
			groups[n++] = (struct topo_group){ .first = first, .last = last };
	}
	return n;
}

hwloc_bitmap_t topo_allowed_pus(const struct topo *t)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (set && hwloc_get_cpubind(t->topology, set, HWLOC_CPUBIND_THREAD) != 0) {
		hwloc_bitmap_free(set);
		return NULL;
	}
	return set;
}

int topo_current_pu(const struct topo *t)
{
	hwloc_bitmap_t where = hwloc_bitmap_alloc();
	int pu = -1;

	if (where && hwloc_get_last_cpu_location(t->topology, where, HWLOC_CPUBIND_THREAD) == 0)
		pu = hwloc_bitmap_first(where);
	hwloc_bitmap_free(where);
	return pu;
}

int topo_bind_thread(const struct topo *t, unsigned pu, struct topo_binding *binding)
{
	hwloc_obj_t obj = hwloc_get_pu_obj_by_os_index(t->topology, pu);

	binding->pu_requested = pu;
	binding->pu_observed = -1;
	binding->verified = false;
	if (!obj)
		return -EINVAL;
	const struct hwloc_topology_support *support = hwloc_topology_get_support(t->topology);
	if (!support->cpubind->set_thisthread_cpubind)
		return -ENOSYS;
	if (hwloc_set_cpubind(t->topology, obj->cpuset, HWLOC_CPUBIND_THREAD) != 0)
		return errno ? -errno : -EINVAL;
	// sched_setaffinity() has migrated us before returning, so this is where we now run.
	binding->pu_observed = topo_current_pu(t);
	binding->verified = binding->pu_observed == (int)pu;
	return 0;
}

int topo_export_xml(const struct topo *t, const char *path)
{
	if (hwloc_topology_export_xml(t->topology, path, 0) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

uint64_t topo_meminfo_bytes(const char *field)
{
	uint64_t v = memlimit_kb_field("/proc/meminfo", field);

	return v == MEMLIMIT_NONE ? 0 : v;
}

uint64_t topo_mem_available_bytes(void)
{
	return topo_meminfo_bytes("MemAvailable");
}
