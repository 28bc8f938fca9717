/**
 * "Small" files, on both ends: up to this size a file is read or received whole into memory
 * and written in one go (a GET answer with its header and trailer in one write, a one-step PUT
 * stored while the next is read, a download written without a part file's round trips).
 * Larger ones stream through a part file and sendfile.
 */
export const SMALL_FILE_BYTES = 256 * 1024;
