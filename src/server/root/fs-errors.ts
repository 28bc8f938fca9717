/**
 * Turning Node's file system errors into ours.
 *
 * Node's messages name the absolute path on the server (`ENOENT: no such file or directory,
 * open '/srv/data/x'`); ours name only the path the client asked for, so an error never tells
 * a client how the server's disk is laid out. The original stays reachable as `cause`, for logs.
 */
import {
  BadPathError,
  ExistsError,
  ForbiddenError,
  InternalError,
  IsDirectoryError,
  NoSpaceError,
  NotDirectoryError,
  NotFoundError,
  TcpsendError,
} from '../../errors.js';
import { quoteRequestPath } from '../../files/quote-path.js';

/** The `code` of a Node system error (`ENOENT`...), if `err` is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const { code } = err as { code: unknown };
  return typeof code === 'string' ? code : undefined;
}

/**
 * Our error for a failed file system call on `requestPath` (the path as the client sent it,
 * or '' for the root). Errors that are ours already pass through unchanged.
 */
export function toStorageError(err: unknown, requestPath: string): TcpsendError {
  if (err instanceof TcpsendError) return err;
  const shown = quoteRequestPath(requestPath);
  const cause = { cause: err };
  const code = errnoCode(err);
  switch (code) {
    case 'ENOENT':
      return new NotFoundError(`no such file or folder ${shown}`, cause);
    case 'ENOTDIR':
      return new NotDirectoryError(`a part of ${shown} is not a folder`, cause);
    case 'EISDIR':
      return new IsDirectoryError(`${shown} is a folder`, cause);
    case 'EACCES':
    case 'EPERM':
      return new ForbiddenError(`permission denied for ${shown}`, cause);
    case 'ENOSPC':
      return new NoSpaceError(`no space left on the device for ${shown}`, cause);
    case 'EDQUOT':
      return new NoSpaceError(`disk quota exceeded for ${shown}`, cause);
    case 'ELOOP':
      return new ForbiddenError(`${shown} goes through a symlink loop or a swapped symlink`, cause);
    case 'EEXIST':
      return new ExistsError(`${shown} already exists`, cause);
    case 'ENAMETOOLONG':
      return new BadPathError(`${shown} is too long for the server's file system`, cause);
    case 'EMFILE':
    case 'ENFILE':
      return new InternalError(`the server has too many open files (${shown})`, cause);
    default:
      return new InternalError(
        `cannot access ${shown}${code === undefined ? '' : ` (${code})`}`,
        cause,
      );
  }
}
