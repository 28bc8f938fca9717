/*
 * tcpsend's one native helper: the *at() calls Node does not have, on folders held open. The
 * names of a folder, each with its lstat, in one call (fdopendir + readdir +
 * fstatat(AT_SYMLINK_NOFOLLOW) on the descriptor); and openat and renameat, for the files a
 * transfer stores in a folder held open. Node has no
 * fstatat: an lstat from JavaScript names its entry by a path the kernel resolves again each
 * time (/proc/<pid>/fd/N/name through a folder held open, 4.2 µs; a plain path, 2.6) and makes
 * a Stats object with four Dates; here each entry costs one lookup in the folder itself.
 * Loaded by src/files/native-folder.ts, which falls back to fs.readdirSync + fs.lstatSync
 * where this is not built. Node-API only: one build serves every Node version.
 *
 *   readFolder(fd, max) -> [names, stats] | null
 *     names: the entries' names ('.' and '..' left out), as fs.readdirSync gives them;
 *     stats: a Float64Array of FIELDS numbers per name, in the same order: st_mode, st_size,
 *       mtime and ctime in milliseconds (sec * 1000 + nsec / 1e6, as Node's mtimeMs), st_dev,
 *       st_ino, st_nlink, and the errno of a failed fstatat (0 when it worked; the other
 *       fields are then 0);
 *     null when the folder holds more than `max` names (read it another way).
 *   Throws an Error with `errno` and `syscall` when the folder itself cannot be read.
 *
 *   openAt(dirfd, name, flags, mode) -> fd: openat(2); `name` is one name, looked up in the
 *     folder held as `dirfd` (the flags and mode are open(2)'s, as fs.constants gives them).
 *   renameAt(fromDirfd, fromName, toDirfd, toName): renameat(2), names in folders held.
 *   Both throw an Error with `errno` and `syscall` when the call fails.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELDS 8

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value message, error, number, name;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, err, &number);
  napi_set_named_property(env, error, "errno", number);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, error, "syscall", name);
  napi_throw(env, error);
  return NULL;
}

/*
 * Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF): what V8 decodes without a U+FFFD, so that the string names the same bytes again.
 */
static int valid_utf8(const char *text) {
  const unsigned char *p = (const unsigned char *)text;
  while (*p != 0) {
    unsigned char c = p[0];
    if (c < 0x80) {
      p += 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if ((p[1] & 0xc0) != 0x80) return 0;
      p += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
      if (c == 0xe0 && p[1] < 0xa0) return 0; /* overlong */
      if (c == 0xed && p[1] >= 0xa0) return 0; /* a surrogate */
      p += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80) return 0;
      if (c == 0xf0 && p[1] < 0x90) return 0; /* overlong */
      if (c == 0xf4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
      p += 4;
    } else {
      return 0;
    }
  }
  return 1;
}

static napi_value read_folder(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  int64_t max;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &max) != napi_ok || fd < 0 || max < 0) {
    napi_throw_type_error(env, NULL, "readFolder(fd, max): two non-negative integers");
    return NULL;
  }
  /* closedir closes the descriptor it reads through: a duplicate of the caller's (which shares
     its position; rewinddir starts it over, and no caller reads the folder through its own). */
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return throw_errno(env, errno, "fcntl");
  DIR *dir = fdopendir(own);
  if (dir == NULL) {
    int err = errno;
    close(own);
    return throw_errno(env, err, "fdopendir");
  }
  rewinddir(dir);
  size_t capacity = 128, count = 0;
  double *stats = malloc(capacity * FIELDS * sizeof(double));
  napi_value names;
  if (stats == NULL || napi_create_array(env, &names) != napi_ok) {
    free(stats);
    closedir(dir);
    return throw_errno(env, ENOMEM, "readdir");
  }
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (entry == NULL) {
      if (errno != 0) {
        int err = errno;
        free(stats);
        closedir(dir);
        return throw_errno(env, err, "readdir");
      }
      break;
    }
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    if ((int64_t)count >= max) {
      free(stats);
      closedir(dir);
      napi_value nothing;
      napi_get_null(env, &nothing);
      return nothing;
    }
    if (count == capacity) {
      double *more = realloc(stats, capacity * 2 * FIELDS * sizeof(double));
      if (more == NULL) {
        free(stats);
        closedir(dir);
        return throw_errno(env, ENOMEM, "readdir");
      }
      stats = more;
      capacity *= 2;
    }
    double *out = stats + count * FIELDS;
    struct stat st;
    if (!valid_utf8(name)) {
      /* Its name as a JavaScript string (with U+FFFD for the bad bytes) names no entry: an lstat
         of it fails, and so it does here, where the raw bytes would have found one. */
      memset(out, 0, FIELDS * sizeof(double));
      out[7] = (double)ENOENT;
    } else if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      out[0] = (double)st.st_mode;
      out[1] = (double)st.st_size;
      out[2] = (double)st.st_mtim.tv_sec * 1000.0 + (double)st.st_mtim.tv_nsec / 1e6;
      out[3] = (double)st.st_ctim.tv_sec * 1000.0 + (double)st.st_ctim.tv_nsec / 1e6;
      out[4] = (double)st.st_dev;
      out[5] = (double)st.st_ino;
      out[6] = (double)st.st_nlink;
      out[7] = 0;
    } else {
      memset(out, 0, FIELDS * sizeof(double));
      out[7] = (double)errno;
    }
    napi_value text;
    if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &text) != napi_ok || napi_set_element(env, names, (uint32_t)count, text) != napi_ok) {
      free(stats);
      closedir(dir);
      return NULL; /* a JavaScript exception is pending */
    }
    count++;
  }
  closedir(dir);
  void *data;
  napi_value buffer, array, result;
  if (napi_create_arraybuffer(env, count * FIELDS * sizeof(double), &data, &buffer) != napi_ok) {
    free(stats);
    return NULL;
  }
  if (count > 0) memcpy(data, stats, count * FIELDS * sizeof(double));
  free(stats);
  napi_create_typedarray(env, napi_float64_array, count * FIELDS, buffer, 0, &array);
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, names);
  napi_set_element(env, result, 1, array);
  return result;
}

#define NAME_MAX_BYTES 255
#define NAME_SIZE (NAME_MAX_BYTES + 1)

/*
 * A name argument: one name in a folder (not empty, not '.' or '..', no '/', no NUL, at most
 * NAME_MAX_BYTES bytes of UTF-8), copied into `out` (NAME_SIZE bytes). Its length is measured
 * first: a copy into a buffer too small would stop short of a character and name another file.
 */
static int name_arg(napi_env env, napi_value value, char *out) {
  size_t length, copied;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) == napi_ok && length > 0 && length <= NAME_MAX_BYTES &&
      napi_get_value_string_utf8(env, value, out, NAME_SIZE, &copied) == napi_ok && copied == length && strlen(out) == length &&
      strchr(out, '/') == NULL && strcmp(out, ".") != 0 && strcmp(out, "..") != 0) {
    return 1;
  }
  napi_throw_type_error(env, NULL, "a name in a folder: not empty, not '.' or '..', at most 255 bytes, no '/' and no NUL");
  return 0;
}

static napi_value open_at(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t dirfd, flags, mode;
  char name[NAME_SIZE];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &dirfd) != napi_ok ||
      napi_get_value_int32(env, argv[2], &flags) != napi_ok || napi_get_value_int32(env, argv[3], &mode) != napi_ok || dirfd < 0) {
    napi_throw_type_error(env, NULL, "openAt(dirfd, name, flags, mode)");
    return NULL;
  }
  if (!name_arg(env, argv[1], name)) return NULL;
  int fd;
  do fd = openat(dirfd, name, flags | O_CLOEXEC, (mode_t)mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return throw_errno(env, errno, "open");
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value rename_at(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t from_dirfd, to_dirfd;
  char from[NAME_SIZE], to[NAME_SIZE];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &from_dirfd) != napi_ok ||
      napi_get_value_int32(env, argv[2], &to_dirfd) != napi_ok || from_dirfd < 0 || to_dirfd < 0) {
    napi_throw_type_error(env, NULL, "renameAt(fromDirfd, fromName, toDirfd, toName)");
    return NULL;
  }
  if (!name_arg(env, argv[1], from) || !name_arg(env, argv[3], to)) return NULL;
  if (renameat(from_dirfd, from, to_dirfd, to) != 0) return throw_errno(env, errno, "rename");
  napi_value nothing;
  napi_get_undefined(env, &nothing);
  return nothing;
}

NAPI_MODULE_INIT() {
  napi_value fn, fields;
  napi_create_function(env, "readFolder", NAPI_AUTO_LENGTH, read_folder, NULL, &fn);
  napi_set_named_property(env, exports, "readFolder", fn);
  napi_create_function(env, "openAt", NAPI_AUTO_LENGTH, open_at, NULL, &fn);
  napi_set_named_property(env, exports, "openAt", fn);
  napi_create_function(env, "renameAt", NAPI_AUTO_LENGTH, rename_at, NULL, &fn);
  napi_set_named_property(env, exports, "renameAt", fn);
  napi_create_int32(env, FIELDS, &fields);
  napi_set_named_property(env, exports, "FIELDS", fields);
  return exports;
}
