// SPDX-License-Identifier: GPL-2.0
#include "pattern.h"

static uint64_t pattern_word(enum pattern_tag tag, size_t pgoff, size_t i)
{
	return ((uint64_t)tag << 56) | ((uint64_t)pgoff << 24) | i;
}

void pattern_fill(void *page, size_t page_size, enum pattern_tag tag,
		  size_t pgoff)
{
	uint64_t *w = page;
	size_t i;

	for (i = 0; i < page_size / sizeof(*w); i++)
		w[i] = pattern_word(tag, pgoff, i);
}

bool pattern_check(const void *page, size_t page_size, enum pattern_tag tag,
		   size_t pgoff)
{
	const volatile uint64_t *w = page;
	size_t i;

	for (i = 0; i < page_size / sizeof(*w); i++)
		if (w[i] != pattern_word(tag, pgoff, i))
			return false;
	return true;
}

bool page_is_zero(const void *page, size_t page_size)
{
	const volatile uint64_t *w = page;
	size_t i;

	for (i = 0; i < page_size / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}
