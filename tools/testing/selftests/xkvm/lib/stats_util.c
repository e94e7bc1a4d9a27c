// SPDX-License-Identifier: GPL-2.0
/*
 * stats_util.c - read KVM's binary statistics files (KVM_GET_STATS_FD):
 * header, id string and descriptors once, values on every read, at the
 * offsets the header gives.  Host side only.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats_util.h"

struct kvm_stats_desc *stats_file_desc(struct stats_file *s, unsigned int i)
{
	return (struct kvm_stats_desc *)(s->desc + i * s->desc_size);
}

int stats_file_open(struct stats_file *s, int fd)
{
	size_t dlen;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	if (pread(fd, &s->h, sizeof(s->h), 0) != sizeof(s->h) || !s->h.name_size)
		return -1;
	s->desc_size = sizeof(struct kvm_stats_desc) + s->h.name_size;
	dlen = (size_t)s->h.num_desc * s->desc_size;
	s->id = calloc(1, s->h.name_size);
	s->desc = calloc(1, dlen ? dlen : 1);
	if (!s->id || !s->desc ||
	    pread(fd, s->id, s->h.name_size, s->h.id_offset) != s->h.name_size ||
	    pread(fd, s->desc, dlen, s->h.desc_offset) != (ssize_t)dlen)
		return -1;
	for (i = 0; i < s->h.num_desc; i++) {
		struct kvm_stats_desc *d = stats_file_desc(s, i);
		size_t end = d->offset / 8 + d->size;

		if (end > s->nvalues)
			s->nvalues = end;
	}
	s->data = calloc(s->nvalues ? s->nvalues : 1, sizeof(uint64_t));
	return s->data ? 0 : -1;
}

int stats_file_read(struct stats_file *s)
{
	ssize_t len = s->nvalues * sizeof(uint64_t);

	return pread(s->fd, s->data, len, s->h.data_offset) == len ? 0 : -1;
}

void stats_file_close(struct stats_file *s)
{
	close(s->fd);
	free(s->id);
	free(s->desc);
	free(s->data);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

int64_t stats_file_get(struct stats_file *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->h.num_desc; i++)
		if (!strcmp(stats_file_desc(s, i)->name, name))
			return s->data[stats_file_desc(s, i)->offset / 8];
	return -1;
}
