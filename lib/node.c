// SPDX-License-Identifier: GPL-2.0
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "node.h"

#ifdef HAVE_LIBNUMA
#include <numa.h>

const char *node_probe(int nr)
{
	static char why[96];

	if (numa_available() < 0)
		return "kernel without NUMA";
	if (numa_num_configured_nodes() >= nr)
		return NULL;
	snprintf(why, sizeof(why), "needs %d NUMA nodes, this machine has %d",
		 nr, numa_num_configured_nodes());
	return why;
}

void node_bind(void *addr, size_t len, int node)
{
	numa_tonode_memory(addr, len, node);
}

int node_of(void *addr)
{
	int status = -ENOENT;

	if (numa_move_pages(0, 1, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

int node_run_on(int node)
{
	return numa_run_on_node(node);
}

int node_here(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? -1 : numa_node_of_cpu(cpu);
}

#else /* !HAVE_LIBNUMA */

const char *node_probe(int nr)
{
	(void)nr;
	return "built without libnuma (install libnuma-dev)";
}

void node_bind(void *addr, size_t len, int node)
{
	(void)addr, (void)len, (void)node;
}

int node_of(void *addr)
{
	(void)addr;
	return -ENOSYS;
}

int node_run_on(int node)
{
	(void)node;
	return -1;
}

int node_here(void)
{
	return -1;
}

#endif
