// SPDX-License-Identifier: MIT
// Unit tests of common/topo: PU-pair choice on synthetic machines this VM is not (SMT, two packages,
// a hybrid-like part), and describing and binding on the real one.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "topo.h"
#include "unit.h"

// Four cores with two hardware threads each, a private L2 per core, one shared L3.
#define SMT_MACHINE "Package:1 L3Cache:1 L2Cache:4 L1dCache:1 Core:1 PU:2"
// Two packages, each with an L3 shared by two cores of one PU.
#define TWO_PACKAGES "Package:2 L3Cache:1 L2Cache:2 L1dCache:1 Core:1 PU:1"

static void assert_pair(const struct topo *t, enum topo_relation rel, int want_a, int want_b)
{
	unsigned a, b;
	int err = topo_pick_pair(t, rel, NULL, &a, &b);

	if (want_a < 0) {
		assert_int_equal(err, -ENOENT);
		return;
	}
	assert_int_equal(err, 0);
	assert_int_equal(a, want_a);
	assert_int_equal(b, want_b);
	enum topo_relation back;
	assert_int_equal(topo_relation_of(t, a, b, &back), 0);
	assert_int_equal(back, rel);
}

static void test_smt_machine(void **state)
{
	(void)state;
	struct topo t;
	char line[512];

	assert_int_equal(topo_init_synthetic(&t, SMT_MACHINE), 0);
	assert_int_equal(topo_nr_pus(&t), 8);
	assert_int_equal(topo_nr_cores(&t), 4);
	assert_int_equal(topo_nr_packages(&t), 1);
	assert_pair(&t, TOPO_SAME_PU, 0, 0);
	assert_pair(&t, TOPO_SMT_SIBLINGS, 0, 1);
	assert_pair(&t, TOPO_SHARED_L2, -1, -1);	// every L2 is private to one core
	assert_pair(&t, TOPO_SHARED_L3, 0, 2);
	assert_pair(&t, TOPO_OTHER_PACKAGE, -1, -1);
	topo_describe(&t, line, sizeof(line));
	assert_non_null(strstr(line, "1 package, 4 cores, 8 PUs"));
	topo_release(&t);
}

static void test_two_packages(void **state)
{
	(void)state;
	struct topo t;

	assert_int_equal(topo_init_synthetic(&t, TWO_PACKAGES), 0);
	assert_int_equal(topo_nr_pus(&t), 4);
	assert_int_equal(topo_nr_packages(&t), 2);
	assert_pair(&t, TOPO_SMT_SIBLINGS, -1, -1);
	assert_pair(&t, TOPO_SHARED_L3, 0, 1);
	assert_pair(&t, TOPO_OTHER_PACKAGE, 0, 2);
	enum topo_relation rel;
	assert_int_equal(topo_relation_of(&t, 1, 3, &rel), 0);
	assert_int_equal(rel, TOPO_OTHER_PACKAGE);
	assert_int_equal(topo_relation_of(&t, 0, 99, &rel), -ENOENT);
	topo_release(&t);
}

// A hybrid-like part: two P-cores with SMT and a private L2 each, and a cluster of four single-
// thread E-cores sharing one L2, all under one L3, with two CPU kinds registered. hwloc's synthetic
// syntax is symmetric, so it starts from "3 L2 x 4 cores x 2 PUs" and restricts to that shape.
static void load_hybrid(struct topo *t)
{
	assert_int_equal(topo_init_synthetic(t, "Package:1 L3Cache:1 L2Cache:3 Core:4 PU:2"), 0);
	hwloc_bitmap_t keep = hwloc_bitmap_alloc(), p = hwloc_bitmap_alloc(),
		       e = hwloc_bitmap_alloc();
	// L2 #0: core 0 (PUs 0,1); L2 #1: core 4 (PUs 8,9); L2 #2: cores 8-11, one PU each.
	hwloc_bitmap_set_range(p, 0, 1);
	hwloc_bitmap_set_range(p, 8, 9);
	for (unsigned pu = 16; pu < 24; pu += 2)
		hwloc_bitmap_set(e, pu);
	hwloc_bitmap_or(keep, p, e);
	assert_int_equal(hwloc_topology_restrict(t->topology, keep,
						 HWLOC_RESTRICT_FLAG_REMOVE_CPULESS), 0);
	struct hwloc_info_s p_info = { (char *)"CoreType", (char *)"P-core" };
	struct hwloc_info_s e_info = { (char *)"CoreType", (char *)"E-core" };
	assert_int_equal(hwloc_cpukinds_register(t->topology, e, 0, 1, &e_info, 0), 0);
	assert_int_equal(hwloc_cpukinds_register(t->topology, p, 1, 1, &p_info, 0), 0);
	hwloc_bitmap_free(keep);
	hwloc_bitmap_free(p);
	hwloc_bitmap_free(e);
}

static void test_hybrid_like(void **state)
{
	(void)state;
	struct topo t;
	char line[512];

	load_hybrid(&t);
	assert_int_equal(topo_nr_pus(&t), 8);
	assert_int_equal(topo_nr_cores(&t), 6);
	assert_int_equal(topo_nr_cpu_kinds(&t), 2);
	assert_pair(&t, TOPO_SMT_SIBLINGS, 0, 1);	// only the P-cores have SMT
	assert_pair(&t, TOPO_SHARED_L2, 16, 18);	// only the E-core cluster shares an L2
	assert_pair(&t, TOPO_SHARED_L3, 0, 8);
	topo_describe(&t, line, sizeof(line));
	assert_non_null(strstr(line, "2 CPU kinds"));
	assert_non_null(strstr(line, "P-core"));
	assert_non_null(strstr(line, "E-core"));
	topo_release(&t);
}

// On a hybrid part the caches that matter are the ones above the PU a lab runs on: the P-cores'
// private L2 (1.25 MiB here) or the E-core cluster's shared one (2 MiB), never just the first
// one hwloc lists. The largest kind is the P-cores (the higher efficiency value).
static void test_hybrid_home_caches(void **state)
{
	(void)state;
	struct topo t;
	char kind[64];

	load_hybrid(&t);
	hwloc_obj_t l2 = NULL;
	while ((l2 = hwloc_get_next_obj_by_type(t.topology, HWLOC_OBJ_L2CACHE, l2)))
		l2->attr->cache.size = hwloc_bitmap_weight(l2->cpuset) == 4 ? 2u << 20 : 1280u << 10;
	int big = topo_biggest_kind(&t);
	assert_int_equal(topo_pu_kind(&t, 0), big);
	assert_int_not_equal(topo_pu_kind(&t, 16), big);
	assert_int_equal(topo_first_pu_of_kind(&t, big, NULL), 0);
	assert_non_null(strstr(topo_kind_describe(&t, big, kind, sizeof(kind)), "P-core, efficiency 1"));
	// A cpuset that leaves only the second P-core of that kind.
	hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
	hwloc_bitmap_set(allowed, 9);
	hwloc_bitmap_set(allowed, 16);
	assert_int_equal(topo_first_pu_of_kind(&t, big, allowed), 9);
	assert_int_equal(topo_first_pu_of_kind(&t, topo_pu_kind(&t, 16), allowed), 16);
	hwloc_bitmap_free(allowed);

	topo_set_home_pu(&t, 16);
	assert_int_equal(topo_cache_bytes(&t, 2), 2u << 20);
	topo_set_home_pu(&t, 8);
	assert_int_equal(topo_cache_bytes(&t, 2), 1280u << 10);
	topo_set_home_pu(&t, 99);	// no such PU: back to the first caches
	assert_int_equal(t.home_pu, -1);
	topo_release(&t);
}

// Lab 5's core-to-core heatmap orders its axes by these lists and draws a box per group: on the
// hybrid part the two P-cores' SMT pairs and the E-core cluster each share an L2, and all share
// the L3 and the package.
static void test_heatmap_groups(void **state)
{
	(void)state;
	struct topo t;
	unsigned pus[16];
	struct topo_group g[8];

	load_hybrid(&t);
	assert_int_equal(topo_pus_in_order(&t, NULL, pus, 16), 8);
	const unsigned want[] = { 0, 1, 8, 9, 16, 18, 20, 22 };
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(pus[i], want[i]);
	assert_int_equal(topo_pu_groups(&t, HWLOC_OBJ_L2CACHE, pus, 8, g, 8), 3);
	assert_int_equal(g[0].first, 0);
	assert_int_equal(g[0].last, 1);
	assert_int_equal(g[1].first, 2);
	assert_int_equal(g[1].last, 3);
	assert_int_equal(g[2].first, 4);
	assert_int_equal(g[2].last, 7);
	assert_int_equal(topo_pu_groups(&t, HWLOC_OBJ_L3CACHE, pus, 8, g, 8), 1);
	assert_int_equal(g[0].last - g[0].first, 7);
	assert_int_equal(topo_pu_groups(&t, HWLOC_OBJ_PACKAGE, pus, 8, g, 8), 1);
	// Allowed PUs only: a cpuset of one P-core and two E-cores keeps the E-cores' group alone.
	hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
	hwloc_bitmap_set(allowed, 8);
	hwloc_bitmap_set(allowed, 18);
	hwloc_bitmap_set(allowed, 22);
	assert_int_equal(topo_pus_in_order(&t, allowed, pus, 16), 3);
	assert_int_equal(topo_pu_groups(&t, HWLOC_OBJ_L2CACHE, pus, 3, g, 8), 1);
	assert_int_equal(g[0].first, 1);
	assert_int_equal(g[0].last, 2);
	// A list out of order splits the cluster: no box.
	const unsigned shuffled[] = { 16, 0, 18 };
	assert_int_equal(topo_pu_groups(&t, HWLOC_OBJ_L2CACHE, shuffled, 3, g, 8), 0);
	hwloc_bitmap_free(allowed);
	topo_release(&t);
}

static void test_allowed_pus(void **state)
{
	(void)state;
	struct topo t;
	unsigned a, b;
	hwloc_bitmap_t allowed = hwloc_bitmap_alloc();

	assert_int_equal(topo_init_synthetic(&t, SMT_MACHINE), 0);
	hwloc_bitmap_set(allowed, 0);
	hwloc_bitmap_set(allowed, 2);	// PUs 0 and 2: different cores, no SMT pair left
	assert_int_equal(topo_pick_pair(&t, TOPO_SMT_SIBLINGS, allowed, &a, &b), -ENOENT);
	assert_int_equal(topo_pick_pair(&t, TOPO_SHARED_L3, allowed, &a, &b), 0);
	assert_int_equal(a, 0);
	assert_int_equal(b, 2);
	hwloc_bitmap_only(allowed, 3);	// one PU: only the same-PU "pair"
	assert_int_equal(topo_pick_pair(&t, TOPO_SAME_PU, allowed, &a, &b), 0);
	assert_int_equal(a, 3);
	assert_int_equal(topo_pick_pair(&t, TOPO_SHARED_L3, allowed, &a, &b), -ENOENT);
	hwloc_bitmap_free(allowed);
	topo_release(&t);
}

static void test_names_and_defaults(void **state)
{
	(void)state;
	struct topo t;

	assert_string_equal(topo_relation_name(TOPO_SMT_SIBLINGS), "smt-siblings");
	assert_string_equal(topo_relation_name(TOPO_NR_RELATIONS), "unknown");
	assert_int_equal(topo_init_synthetic(&t, "Package:1 Core:2 PU:1"), 0);
	assert_int_equal(topo_cache_bytes(&t, 1), 0);	// no caches in this synthetic machine
	assert_true(topo_line_bytes(&t) >= 16);	// falls back to sysconf or 64, never 0
	char model[64];

	assert_string_equal(topo_cpu_model(&t, model, sizeof(model)), "unknown CPU");
	// A VM's model name can come padded with blanks; the machine line shows it once, single-spaced.
	hwloc_obj_add_info(hwloc_get_root_obj(t.topology), "CPUModel", "  Virtual   Turin-like CPU        ");
	assert_string_equal(topo_cpu_model(&t, model, sizeof(model)), "Virtual Turin-like CPU");
	topo_release(&t);
	assert_int_equal(topo_init_synthetic(&t, "this is not a topology"), -EINVAL);
}

static void test_this_machine(void **state)
{
	(void)state;
	struct topo t;
	struct topo_binding b;

	assert_int_equal(topo_init(&t), 0);
	assert_true(topo_nr_pus(&t) >= 1);
	assert_true(topo_nr_cores(&t) >= 1 && topo_nr_cores(&t) <= topo_nr_pus(&t));
	assert_true(topo_mem_available_bytes() > 0);
	int pu = topo_current_pu(&t);
	if (pu < 0) {
		topo_release(&t);
		skip_because("hwloc cannot tell where this thread runs here");
	}
	int err = topo_bind_thread(&t, (unsigned)pu, &b);
	if (err == -ENOSYS || err == -EPERM) {
		topo_release(&t);
		skip_because("binding is not allowed here (%s)", strerror(-err));
	}
	assert_int_equal(err, 0);
	assert_true(b.verified);
	assert_int_equal(b.pu_observed, pu);
	assert_int_not_equal(topo_bind_thread(&t, 100000, &b), 0);	// no such PU
	topo_release(&t);
}

static void test_export_xml(void **state)
{
	(void)state;
	struct topo t;
	char path[] = "/tmp/test_topo.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(topo_init_synthetic(&t, SMT_MACHINE), 0);
	assert_int_equal(topo_export_xml(&t, path), 0);
	FILE *f = fopen(path, "r");
	char head[256] = "";
	assert_non_null(f);
	assert_true(fread(head, 1, sizeof(head) - 1, f) > 0);
	fclose(f);
	unlink(path);
	assert_non_null(strstr(head, "<topology"));
	topo_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smt_machine),
		cmocka_unit_test(test_two_packages),
		cmocka_unit_test(test_hybrid_like),
		cmocka_unit_test(test_hybrid_home_caches),
		cmocka_unit_test(test_heatmap_groups),
		cmocka_unit_test(test_allowed_pus),
		cmocka_unit_test(test_names_and_defaults),
		cmocka_unit_test(test_this_machine),
		cmocka_unit_test(test_export_xml),
	};
	return run_group(tests);
}
