// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd_view: what the open /dev/iommu files of this machine hold, per process.
 *
 *   iommufd_view            one report of every context
 *   iommufd_view -p PID     only the contexts of process PID
 *   iommufd_view -f [-i S]  follow: a new report every S seconds (default 1) while
 *                           it changes, until interrupted
 *
 * It reads the Rust iommufd's live view (Documentation/iommufd-rs/observability.rst):
 * /sys/kernel/debug/iommufd/ (root only) for the whole picture, or, without it, the
 * fdinfo of each /dev/iommu descriptor (object counts and pinned bytes) of the
 * processes it may look at. Static, libc only.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEBUGFS "/sys/kernel/debug/iommufd"

/* A report being built: a growing string, so that follow mode can compare two. */
struct out {
	char *buf;
	size_t len, cap;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && o->len + n < o->cap)
			break;
		o->cap = o->cap * 2 + n + 256;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf) {
			perror("iommufd_view");
			exit(1);
		}
	}
	o->len += n;
}

/* bytes as "8.0 KiB", "2.0 MiB"... in a static buffer of its own (4 in rotation). */
static const char *human(unsigned long long bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	static char bufs[4][32];
	static int next;
	char *b = bufs[next++ % 4];
	double v = bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(b, 32, "%llu B", bytes);
	else
		snprintf(b, 32, "%.1f %s", v, unit[u]);
	return b;
}

/* The whole of path, NUL-terminated (malloc'ed), or NULL. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
		len += r;
		if (cap - len < 2) {
			char *n = realloc(buf, cap *= 2);

			if (!n)
				break;
			buf = n;
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

/* The value of "key=<n>" in line (up to its end), or -1. */
static long long field(const char *line, const char *key)
{
	size_t klen = strlen(key);
	const char *end = strchrnul(line, '\n');

	for (const char *p = line; p && p < end; p = strchr(p + 1, ' ')) {
		const char *k = *p == ' ' ? p + 1 : p;

		if (!strncmp(k, key, klen) && k[klen] == '=')
			return strtoll(k + klen + 1, NULL, 0);
	}
	return -1;
}

/* The text of "key=<text>" in line, copied to out (up to a blank); "" if absent. */
static const char *field_text(const char *line, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	const char *end = strchrnul(line, '\n');

	out[0] = 0;
	for (const char *p = line; p && p < end; p = strchr(p + 1, ' ')) {
		const char *k = *p == ' ' ? p + 1 : p;

		if (!strncmp(k, key, klen) && k[klen] == '=') {
			size_t n = strcspn(k + klen + 1, " \n");

			if (n >= size)
				n = size - 1;
			memcpy(out, k + klen + 1, n);
			out[n] = 0;
			break;
		}
	}
	return out;
}

static int starts(const char *line, const char *word)
{
	return !strncmp(line, word, strlen(word));
}

/* The command name of pid, or "?". */
static void comm_of(int pid, char *out, size_t size)
{
	char path[64], *c;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	c = slurp(path);
	snprintf(out, size, "%s", c ? c : "?");
	if (c)
		free(c);
	out[strcspn(out, "\n")] = 0;
}

/* Reports one context directory (PID-N) of debugfs. */
static void report_ctx(struct out *o, const char *name)
{
	char path[PATH_MAX], text[64];
	char *objects, *ioas, *devices;
	int kinds = 0, count = 0;
	char *line;

	snprintf(path, sizeof(path), DEBUGFS "/%s/objects", name);
	objects = slurp(path);
	snprintf(path, sizeof(path), DEBUGFS "/%s/ioas", name);
	ioas = slurp(path);
	snprintf(path, sizeof(path), DEBUGFS "/%s/devices", name);
	devices = slurp(path);
	if (!objects) {
		outf(o, "  context %s: gone\n", name);
		goto out;
	}

	/* objects: a count per kind, in the order first seen. */
	{
		char kind[16][16];
		int n[16] = { 0 };

		for (line = objects; *line; line = strchrnul(line, '\n') + !!*strchrnul(line, '\n')) {
			char k[16] = "";
			int i;

			if (sscanf(line, "%*u %15s", k) != 1)
				continue;
			count++;
			for (i = 0; i < kinds && strcmp(kind[i], k); i++)
				;
			if (i == kinds && kinds < 16)
				snprintf(kind[kinds++], sizeof(kind[0]), "%s", k);
			if (i < 16)
				n[i]++;
		}
		outf(o, "  context %s: %d object%s", name, count, count == 1 ? "" : "s");
		for (int i = 0; i < kinds; i++)
			outf(o, "%s%d %s", i ? ", " : " (", n[i], kind[i]);
		outf(o, "%s\n", kinds ? ")" : "");
	}

	/* ioas: a summary line per IOAS, then its mappings and reserved ranges. */
	for (line = ioas ? ioas : ""; *line; line = strchrnul(line, '\n') + !!*strchrnul(line, '\n')) {
		if (starts(line, "ioas ")) {
			outf(o, "    IOAS %ld\n", strtol(line + 5, NULL, 10));
		} else if (starts(line, "area ")) {
			unsigned long long first, last;
			char prot[8] = "";

			if (sscanf(line, "area %llx-%llx prot=%7s", &first, &last, prot) != 3)
				continue;
			outf(o, "      %#llx-%#llx %-2s %9s mapped, %9s pinned, from %s",
			     first, last, prot, human(last - first + 1),
			     human(field(line, "pinned") * (unsigned long long)sysconf(_SC_PAGESIZE)),
			     field_text(line, "source", text, sizeof(text)));
			if (field(line, "pid") >= 0)
				outf(o, " of pid %lld", field(line, "pid"));
			field_text(line, "charge", text, sizeof(text));
			if (!strcmp(text, "none"))
				outf(o, ", not charged (CAP_IPC_LOCK)\n");
			else
				outf(o, ", charged to the %s's RLIMIT_MEMLOCK\n", text);
		} else if (starts(line, "pinned ")) {
			outf(o, "      pinned: %s in %lld run%s", human(field(line, "bytes")),
			     field(line, "runs"), field(line, "runs") == 1 ? "" : "s");
		} else if (starts(line, "runs-by-order")) {
			/* The share of runs of 2 MiB or more (order 9 of 4 KiB pages). */
			long page = sysconf(_SC_PAGESIZE), big = 0, all = 0;
			char *p = line + strlen("runs-by-order");

			while (*p == ' ') {
				int order, n;

				if (sscanf(p, " %d:%d", &order, &n) != 2)
					break;
				all += (long)n << order;
				if ((page << order) >= (2L << 20))
					big += (long)n << order;
				p = strchr(p + 1, ' ');
				if (!p)
					break;
			}
			if (all)
				outf(o, ", about %ld%% in runs of 2 MiB or more", big * 100 / all);
			outf(o, "\n");
		} else if (starts(line, "reserved ") || starts(line, "allowed ")) {
			outf(o, "      %.*s\n", (int)(strchrnul(line, '\n') - line), line);
		} else if (starts(line, "domains ")) {
			outf(o, "      filling %ld IOMMU domain(s)\n", strtol(line + 8, NULL, 10));
		}
	}

	/* devices: each with its attachments. */
	for (line = devices ? devices : ""; *line; line = strchrnul(line, '\n') + !!*strchrnul(line, '\n')) {
		if (starts(line, "device ")) {
			outf(o, "    device %ld %s, IOMMU group %lld\n", strtol(line + 7, NULL, 10),
			     field_text(line, "dev", text, sizeof(text)), field(line, "group"));
		} else if (starts(line, "attached ")) {
			char hwpt[32];

			field_text(line, "hwpt", hwpt, sizeof(hwpt));
			outf(o, "      %s -> HWPT %s%s\n",
			     strcmp(field_text(line, "pasid", text, sizeof(text)), "rid") ? text : "RID",
			     hwpt, strcmp(hwpt, "nested") ? "" : " (nested)");
		}
	}
out:
	free(objects);
	free(ioas);
	free(devices);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	int pa = atoi((*a)->d_name), pb = atoi((*b)->d_name);

	if (pa != pb)
		return pa < pb ? -1 : 1;
	return strverscmp((*a)->d_name, (*b)->d_name);
}

static int is_ctx(const struct dirent *e)
{
	return e->d_name[0] >= '0' && e->d_name[0] <= '9' && strchr(e->d_name, '-');
}

/* The report from debugfs; -1 if there is none to read. */
static int report_debugfs(struct out *o, int only_pid)
{
	struct dirent **ctx;
	char *summary = slurp(DEBUGFS "/summary");
	int n, last_pid = -1;

	if (!summary)
		return -1;
	n = scandir(DEBUGFS, &ctx, is_ctx, by_name);
	if (n < 0) {
		free(summary);
		return -1;
	}
	if (!n)
		outf(o, "no open /dev/iommu\n");
	for (int i = 0; i < n; i++) {
		int pid = atoi(ctx[i]->d_name);

		if (only_pid && pid != only_pid)
			continue;
		if (pid != last_pid) {
			char want[32], comm[64], *line;

			comm_of(pid, comm, sizeof(comm));
			snprintf(want, sizeof(want), "process %d ", pid);
			line = strstr(summary, want);
			outf(o, "process %d (%s): %lld context(s), %s pinned\n", pid, comm,
			     line ? field(line, "contexts") : 0,
			     human(line ? field(line, "pinned-bytes") : 0));
			last_pid = pid;
		}
		report_ctx(o, ctx[i]->d_name);
	}
	for (char *l = summary; (l = strstr(l, "user ")); l++)
		if (l == summary || l[-1] == '\n')
			if (!only_pid)
				outf(o, "user %ld: %lld context(s), %s pinned\n", strtol(l + 5, NULL, 10),
				     field(l, "contexts"), human(field(l, "pinned-bytes")));
	for (int i = 0; i < n; i++)
		free(ctx[i]);
	free(ctx);
	free(summary);
	return 0;
}

/* The report from fdinfo, for the processes this user may look at. */
static void report_fdinfo(struct out *o, int only_pid)
{
	DIR *proc = opendir("/proc");
	struct dirent *p;
	int found = 0;

	outf(o, "(no %s: fdinfo only)\n", DEBUGFS);
	while (proc && (p = readdir(proc))) {
		char path[PATH_MAX], comm[64];
		int pid = atoi(p->d_name);
		struct dirent *f;
		DIR *fds;

		if (pid <= 0 || (only_pid && pid != only_pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo", pid);
		fds = opendir(path);
		while (fds && (f = readdir(fds))) {
			char *info, *l;

			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, f->d_name);
			info = slurp(path);
			l = info ? strstr(info, "iommufd-objects:\t") : NULL;
			if (l) {
				char *b = strstr(info, "iommufd-pinned-bytes:\t");

				comm_of(pid, comm, sizeof(comm));
				outf(o, "process %d (%s) fd %s: %ld objects, %s pinned\n", pid, comm,
				     f->d_name, strtol(l + 17, NULL, 10),
				     b ? human(strtoull(b + 22, NULL, 10)) : "?");
				found++;
			}
			free(info);
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	if (!found)
		outf(o, "no open /dev/iommu that this user may see\n");
}

static void report(struct out *o, int only_pid)
{
	o->len = 0;
	if (o->buf)
		o->buf[0] = 0;
	if (report_debugfs(o, only_pid))
		report_fdinfo(o, only_pid);
}

int main(int argc, char **argv)
{
	struct out now = { 0 }, before = { 0 };
	int opt, pid = 0, follow = 0, interval = 1;

	while ((opt = getopt(argc, argv, "p:fi:h")) != -1) {
		switch (opt) {
		case 'p':
			pid = atoi(optarg);
			break;
		case 'f':
			follow = 1;
			break;
		case 'i':
			interval = atoi(optarg) > 0 ? atoi(optarg) : 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-p PID] [-f [-i SECONDS]]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	report(&now, pid);
	fputs(now.buf, stdout);
	while (follow) {
		struct out t;

		fflush(stdout);
		sleep(interval);
		t = before;
		before = now;
		now = t;
		report(&now, pid);
		if (before.len != now.len || memcmp(before.buf, now.buf, now.len))
			printf("---\n%s", now.buf);
	}
	free(now.buf);
	free(before.buf);
	return 0;
}
