/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page contents unique to (writer, page offset), so a reader can tell the
 * test's data, the fault handler's data and a zero-filled page apart.
 */
#ifndef UFFD_SUITE_PATTERN_H
#define UFFD_SUITE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who wrote a page: the test's stores, the uffd handler, or a file read. */
enum pattern_tag {
	PATTERN_FILL = 0xf1,
	PATTERN_FILE = 0xf5,
	PATTERN_UFFD = 0xfd,
};

void pattern_fill(void *page, size_t page_size, enum pattern_tag tag,
		  size_t pgoff);
bool pattern_check(const void *page, size_t page_size, enum pattern_tag tag,
		   size_t pgoff);
bool page_is_zero(const void *page, size_t page_size);

#endif
