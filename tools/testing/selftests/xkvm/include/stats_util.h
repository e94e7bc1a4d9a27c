/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stats_util.h - a reader of KVM's binary statistics files
 * (KVM_GET_STATS_FD), for the tests and for vm_stats.  Host side only.
 */
#ifndef XKVM_SELFTEST_STATS_UTIL_H
#define XKVM_SELFTEST_STATS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct stats_file {
	int fd;
	struct kvm_stats_header h;
	char *id;
	char *desc;		/* num_desc records of desc_size bytes */
	size_t desc_size;
	size_t nvalues;		/* values in the data block */
	uint64_t *data;
};

/* Read the header, id and descriptors of stats fd @fd; 0 or -1. */
int stats_file_open(struct stats_file *s, int fd);
/* Read the current values into s->data; 0 or -1. */
int stats_file_read(struct stats_file *s);
void stats_file_close(struct stats_file *s);
struct kvm_stats_desc *stats_file_desc(struct stats_file *s, unsigned int i);
/* The (first) value of statistic @name; -1 if there is none. */
int64_t stats_file_get(struct stats_file *s, const char *name);

#endif
