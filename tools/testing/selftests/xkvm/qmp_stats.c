// SPDX-License-Identifier: GPL-2.0
/*
 * qmp_stats.c - print the statistics QEMU reads from the hypervisor's
 * binary stats fds (KVM_GET_STATS_FD), through its QMP socket
 * ("query-stats", QEMU 7.1 and later): only the VMM itself may use its VM
 * and vCPU fds, so this is how a benchmark outside QEMU gets them.
 *
 * Usage: qmp_stats <QMP unix socket>
 * Prints "stat <vm|vcpuN> <name> <value>" for every plain counter (a
 * histogram is left out).  Used by the boot benchmark
 * (tools/testing/nested/vmm_qemu_test.sh); not a selftest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define REPLY_MAX	(1 << 20)

static char reply[REPLY_MAX];

/* Send @cmd and read until a line with "return" or "error" arrives. */
static int qmp(int fd, const char *cmd)
{
	size_t len = 0;
	ssize_t n;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	for (;;) {
		n = read(fd, reply + len, REPLY_MAX - 1 - len);
		if (n <= 0)
			return -1;
		len += n;
		reply[len] = 0;
		if ((strstr(reply, "\"return\"") || strstr(reply, "\"error\"")) &&
		    reply[len - 1] == '\n')
			return strstr(reply, "\"error\"") ? -1 : 0;
	}
}

/*
 * Walk a query-stats reply: each element of "return" is one target
 * (a "qom-path" of a vCPU, or none for the VM) with its "stats" list of
 * {"name": ..., "value": ...}.  The elements come in vCPU order.
 */
static void print_reply(const char *target_kind)
{
	const char *p = reply, *next_obj;
	int vcpu = 0;

	while ((p = strstr(p, "\"stats\""))) {
		char target[32];

		next_obj = strstr(p + 1, "\"stats\"");
		if (!strcmp(target_kind, "vcpu"))
			snprintf(target, sizeof(target), "vcpu%d", vcpu++);
		else
			snprintf(target, sizeof(target), "vm");
		while ((p = strstr(p, "\"name\"")) && (!next_obj || p < next_obj)) {
			char name[64];
			unsigned long long v;
			const char *q = strchr(p + 6, '"');

			if (!q || sscanf(q + 1, "%63[^\"]", name) != 1)
				return;
			q = strstr(q, "\"value\"");
			if (!q)
				return;
			q = strchr(q, ':');
			if (q && sscanf(q + 1, " %llu", &v) == 1)
				printf("stat %s %s %llu\n", target, name, v);
			p = q ? q : p + 6;
		}
		if (!p)
			break;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s <QMP socket>\n", argv[0]);
		return 2;
	}
	strncpy(sa.sun_path, argv[1], sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("qmp_stats");
		return 1;
	}
	/* the greeting, then capabilities negotiation */
	if (read(fd, reply, REPLY_MAX - 1) <= 0 ||
	    qmp(fd, "{\"execute\": \"qmp_capabilities\"}\n")) {
		fprintf(stderr, "qmp_stats: no QMP greeting\n");
		return 1;
	}
	if (qmp(fd, "{\"execute\": \"query-stats\", \"arguments\": {\"target\": \"vm\"}}\n"))
		fprintf(stderr, "qmp_stats: query-stats vm: %s", reply);
	else
		print_reply("vm");
	if (qmp(fd, "{\"execute\": \"query-stats\", \"arguments\": {\"target\": \"vcpu\"}}\n"))
		fprintf(stderr, "qmp_stats: query-stats vcpu: %s", reply);
	else
		print_reply("vcpu");
	close(fd);
	return 0;
}
