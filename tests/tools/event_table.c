// SPDX-License-Identifier: MIT
// Which event each metric of common/counters.c resolves to on one CPU model, with no PMU needed:
// run with LIBPFM_FORCE_PMU=<libpfm4 model> (tests/e2e/event_table.sh does, for each model), it
// looks every candidate up by name and prints one markdown table row per metric:
//   | model | metric | event chosen (or "none") | what it counts |
// A kernel generic event (perf::) is shown as "(generic)" where nothing before it resolved: a
// forced libpfm4 has only the model's tables, and the kernel resolves those on the real machine.
// and, on stderr, each candidate meant for this model that libpfm4 does not know. Exit status: 0;
// 1 when such a candidate exists; 3 when PAPI cannot start at all (the line says why).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"

// Whether a space-separated list holds this word.
static int listed(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

int main(void)
{
	const char *model = getenv("LIBPFM_FORCE_PMU");
	int missing = 0;

	if (!model || !*model) {
		fprintf(stderr, "event_table: set LIBPFM_FORCE_PMU to a libpfm4 PMU model\n");
		return 2;
	}
	if (counters_library_init() != 0) {
		fprintf(stderr, "event_table: %s: %s\n", model, counters_library_status());
		return 3;
	}
	for (int m = 0; m < COUNTERS_NR_METRICS; m++) {
		const struct counters_candidate *chosen = NULL, *generic = NULL, *c;

		for (unsigned k = 0; (c = counters_candidate(m, k)); k++) {
			int known = counters_event_known(c->event);

			if (known && !chosen)
				chosen = c;
			// perf:: events are the kernel's generic ones: a forced libpfm4 has only the
			// model's own tables, so they cannot be looked up here; on a real machine of this
			// model they resolve when nothing before them did.
			if (!known && !generic && !strncmp(c->event, "perf::", 6))
				generic = c;
			if (!known && listed(c->meant_for, model)) {
				fprintf(stderr, "event_table: %s is meant for %s, which does not know it\n",
					c->event, model);
				missing = 1;
			}
		}
		if (chosen)
			printf("| %s | %s | %s | %s |\n", model, counters_metric_name(m), chosen->event,
			       chosen->counts);
		else if (generic)
			printf("| %s | %s | %s (generic) | %s |\n", model, counters_metric_name(m),
			       generic->event, generic->counts);
		else
			printf("| %s | %s | none | no candidate for this model |\n", model,
			       counters_metric_name(m));
	}
	return missing;
}
