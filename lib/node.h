/* SPDX-License-Identifier: GPL-2.0 */
/* NUMA placement (libnuma): enough nodes?, and where a page lives. */
#ifndef UFFD_SUITE_NODE_H
#define UFFD_SUITE_NODE_H

#include <stddef.h>

/* NULL if the machine has at least @nr NUMA nodes, else why not. */
const char *node_probe(int nr);
/* Bind [@addr, @addr + @len) to @node before it is populated. */
void node_bind(void *addr, size_t len, int node);
/* Node of the page at @addr (numa_move_pages query); -errno if none. */
int node_of(void *addr);
/* Run the calling thread on @node's CPUs only (numa_run_on_node): 0 or -1. */
int node_run_on(int node);
/* The node of the CPU the calling thread is running on, or -1. */
int node_here(void);

#endif
