/*
 * Storage in a directory: one file per name, written with temp file, fsync,
 * rename, fsync of the directory, so a crash leaves the old or the new
 * content and never half of either.
 */
#define _GNU_SOURCE
#include "sp_platform.h"
#include "sp_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_store {
	struct sp_store base;
	int dirfd;
	int lockfd;          /* STATE/lock while we hold it, else -1 */
	char path[4096];
} file_store;

static int
check_private(const struct stat *st, const char *what, const char *path,
    sp_errmsg *e)
{
	if (st->st_uid != geteuid())
		return sp_errf(e, SP_EPERM, "%s: %s belongs to uid %u, not to us (uid %u)",
		    path, what, (unsigned)st->st_uid, (unsigned)geteuid());
	if ((st->st_mode & 077) != 0)
		return sp_errf(e, SP_EPERM,
		    "%s: %s is open to group or others (mode %04o); expected %s",
		    path, what, (unsigned)(st->st_mode & 07777),
		    S_ISDIR(st->st_mode) ? "0700" : "0600");
	return SP_OK;
}

/* Open (creating if asked) the folder part of name; returns a dirfd. */
static int
open_parent(file_store *fs, const char *name, int create, int *dfd,
    const char **base, sp_errmsg *e)
{
	const char *slash = strchr(name, '/');
	char sub[256];
	struct stat st;
	int fd, rc;

	if (slash == NULL) {
		*dfd = fs->dirfd;
		*base = name;
		return SP_OK;
	}
	memcpy(sub, name, (size_t)(slash - name));
	sub[slash - name] = '\0';
	if (create && mkdirat(fs->dirfd, sub, 0700) != 0 && errno != EEXIST)
		return sp_errf(e, SP_EIO, "%s/%s: mkdir: %s", fs->path, sub,
		    strerror(errno));
	fd = openat(fs->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sp_errf(e, errno == ENOENT ? SP_ENOENT : SP_EIO, "%s/%s: %s",
		    fs->path, sub, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sp_errf(e, SP_EIO, "%s/%s: %s", fs->path, sub, strerror(errno));
	}
	{
		char full[4400];
		snprintf(full, sizeof(full), "%s/%s", fs->path, sub);
		if ((rc = check_private(&st, "directory", full, e)) != SP_OK) {
			close(fd);
			return rc;
		}
	}
	if (create && slash != NULL && fsync(fs->dirfd) != 0) {
		close(fd);
		return sp_errf(e, SP_EIO, "%s: fsync: %s", fs->path, strerror(errno));
	}
	*dfd = fd;
	*base = slash + 1;
	return SP_OK;
}

static void
close_parent(file_store *fs, int dfd)
{
	if (dfd != fs->dirfd)
		close(dfd);
}

static int
fs_get(sp_store *s, const char *name, uint8_t **data, size_t *len, sp_errmsg *e)
{
	file_store *fs = (file_store *)s;
	const char *base;
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int dfd, fd, rc;

	if ((rc = open_parent(fs, name, 0, &dfd, &base, e)) != SP_OK)
		return rc;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close_parent(fs, dfd);
	if (fd < 0)
		return sp_errf(e, errno == ENOENT ? SP_ENOENT : SP_EIO, "%s/%s: %s",
		    fs->path, name, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sp_errf(e, SP_EIO, "%s/%s: not a regular file", fs->path, name);
	}
	{
		char full[4400];
		snprintf(full, sizeof(full), "%s/%s", fs->path, name);
		if ((rc = check_private(&st, "file", full, e)) != SP_OK) {
			close(fd);
			return rc;
		}
	}
	if (st.st_size > SP_STORE_MAX) {
		close(fd);
		return sp_errf(e, SP_ECORRUPT, "%s/%s: too large (%lld bytes)",
		    fs->path, name, (long long)st.st_size);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return SP_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			sp_store_release(buf, (size_t)st.st_size + 1);
			return sp_errf(e, SP_EIO, "%s/%s: read: %s", fs->path, name,
			    r < 0 ? strerror(errno) : "file shrank while reading");
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return SP_OK;
}

static int
fs_put(sp_store *s, const char *name, const void *data, size_t len, sp_errmsg *e)
{
	file_store *fs = (file_store *)s;
	const uint8_t *p = data;
	const char *base;
	char tmp[300];
	size_t done = 0;
	int dfd, fd, rc;

	if ((rc = open_parent(fs, name, 1, &dfd, &base, e)) != SP_OK)
		return rc;
	snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", base, (long)getpid());
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = sp_errf(e, SP_EIO, "%s/%s: create: %s", fs->path, name, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = sp_errf(e, SP_EIO, "%s/%s: write: %s", fs->path, name,
			    strerror(errno));
			goto fail;
		}
		done += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = sp_errf(e, SP_EIO, "%s/%s: fsync: %s", fs->path, name, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) != 0) {
		rc = sp_errf(e, SP_EIO, "%s/%s: rename: %s", fs->path, name, strerror(errno));
		goto fail;
	}
	if (fsync(dfd) != 0) {
		rc = sp_errf(e, SP_EIO, "%s: fsync: %s", fs->path, strerror(errno));
		goto out;
	}
	rc = SP_OK;
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
out:
	close_parent(fs, dfd);
	return rc;
}

static int
fs_del(sp_store *s, const char *name, sp_errmsg *e)
{
	file_store *fs = (file_store *)s;
	const char *base;
	int dfd, rc;

	if ((rc = open_parent(fs, name, 0, &dfd, &base, e)) != SP_OK)
		return rc;
	if (unlinkat(dfd, base, 0) != 0)
		rc = sp_errf(e, errno == ENOENT ? SP_ENOENT : SP_EIO, "%s/%s: %s",
		    fs->path, name, strerror(errno));
	else if (fsync(dfd) != 0)
		rc = sp_errf(e, SP_EIO, "%s: fsync: %s", fs->path, strerror(errno));
	close_parent(fs, dfd);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
fs_list(sp_store *s, const char *dir, int (*cb)(void *, const char *), void *arg,
    sp_errmsg *e)
{
	file_store *fs = (file_store *)s;
	char **names = NULL, full[512];
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, rc = SP_OK;

	fd = openat(fs->dirfd, dir[0] ? dir : ".",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return SP_OK;
		return sp_errf(e, SP_EIO, "%s/%s: %s", fs->path, dir, strerror(errno));
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return sp_errf(e, SP_EIO, "%s/%s: %s", fs->path, dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		snprintf(full, sizeof(full), "%s%s%s", dir, dir[0] ? "/" : "", de->d_name);
		if (de->d_name[0] == '.' || !sp_store_name_ok(full))
			continue;
		/* Folders are not names: only what sp_store_get can read is listed. */
		{
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));
			if (nn == NULL) {
				rc = SP_ENOMEM;
				break;
			}
			names = nn;
		}
		if ((names[n] = strdup(full)) == NULL) {
			rc = SP_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == SP_OK && n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (rc == SP_OK)
			rc = cb(arg, names[i]);
		free(names[i]);
	}
	free(names);
	return rc;
}

static const char *
fs_where(sp_store *s)
{
	return ((file_store *)s)->path;
}

/* ".NAME.tmpPID": what fs_put writes before its rename. */
static int
is_temp(const char *name)
{
	const char *t = strstr(name, ".tmp");

	if (name[0] != '.' || t == NULL || t == name || t[4] == '\0')
		return 0;
	return strspn(t + 4, "0123456789") == strlen(t + 4);
}

/* Remove what a writer killed between create and rename left behind, in
 * dirfd and the folders below it (depth levels). Only the lock's holder
 * writes, so under the lock every temp file is an orphan, and one may
 * hold a key or a pairing token. */
static void
sweep_temps(int dirfd, const char *where, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(st.st_mode) && is_temp(de->d_name)) {
			if (unlinkat(dirfd, de->d_name, 0) == 0)
				sp_warn("%s%s%s: removed, left by a write that did not finish",
				    where, where[0] ? "/" : "", de->d_name);
		} else if (S_ISDIR(st.st_mode) && depth > 0 && de->d_name[0] != '.') {
			int sub = openat(dirfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			char next[512];
			if (sub < 0)
				continue;
			snprintf(next, sizeof(next), "%s%s%s", where, where[0] ? "/" : "", de->d_name);
			sweep_temps(sub, next, depth - 1);
			close(sub);
		}
	}
	closedir(d);
}

/*
 * flock on STATE/lock: the kernel drops it when the holder exits, however it
 * exits, so a crash never leaves a stale lock behind. The holder's pid is
 * written into the file only to name it in the refusal.
 */
static int
fs_lock(sp_store *s, sp_errmsg *e)
{
	file_store *fs = (file_store *)s;
	char pid[32] = "";
	ssize_t n;
	int fd;

	if (fs->lockfd >= 0)
		return SP_OK;
	fd = openat(fs->dirfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sp_errf(e, SP_EIO, "%s/lock: %s", fs->path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		if (err == EWOULDBLOCK && (n = pread(fd, pid, sizeof(pid) - 1, 0)) > 0)
			pid[n] = '\0';
		close(fd);
		pid[strcspn(pid, "\n")] = '\0';
		if (err == EWOULDBLOCK)
			return sp_errf(e, SP_EEXIST, "%s/lock: another signpostd or signpost is "
			    "already running on this state directory%s%s%s", fs->path,
			    pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		return sp_errf(e, SP_EIO, "%s/lock: %s", fs->path, strerror(err));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	/* Only informative: a failure to record the pid changes nothing. */
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		pid[0] = '\0';
	fs->lockfd = fd;
	sweep_temps(fs->dirfd, fs->path, 2);
	return SP_OK;
}

static void
fs_close(sp_store *s)
{
	file_store *fs = (file_store *)s;

	if (fs->lockfd >= 0)
		close(fs->lockfd);
	close(fs->dirfd);
	free(fs);
}

static const struct sp_store_ops file_ops = {
	fs_get, fs_put, fs_del, fs_list, fs_where, fs_lock, fs_close,
};

int
sp_store_open_dir(const char *path, int flags, sp_store **out, sp_errmsg *e)
{
	file_store *fs;
	struct stat st;
	int fd, rc;

	*out = NULL;
	if (strlen(path) >= sizeof(fs->path))
		return sp_errf(e, SP_EINVAL, "%s: path too long", path);
	if ((flags & SP_STORE_CREATE) && mkdir(path, 0700) != 0 && errno != EEXIST)
		return sp_errf(e, SP_EIO, "%s: mkdir: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sp_errf(e, errno == ENOENT ? SP_ENOENT : SP_EIO,
		    "state directory %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sp_errf(e, SP_EIO, "%s: %s", path, strerror(errno));
	}
	if ((rc = check_private(&st, "state directory", path, e)) != SP_OK) {
		close(fd);
		return rc;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL) {
		close(fd);
		return SP_ENOMEM;
	}
	fs->base.ops = &file_ops;
	fs->dirfd = fd;
	fs->lockfd = -1;
	memcpy(fs->path, path, strlen(path) + 1);
	*out = &fs->base;
	return SP_OK;
}
