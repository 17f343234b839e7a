/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /proc/vmstat: how many pages the kernel has tried to migrate (compaction,
 * NUMA balancing), to tell a collapse that met a page under migration.
 */
#ifndef UFFD_SUITE_VMSTAT_H
#define UFFD_SUITE_VMSTAT_H

/* pgmigrate_success + pgmigrate_fail so far, or -1 if unknown. */
long vmstat_migrations(void);

#endif
