// A SQLite VFS that hands a commit's WAL frames to the kernel in few writes.
//
// SQLite appends a commit to the WAL one frame at a time, each frame as two
// pwrite calls (its 24-byte header, then the page), and syncs once at the
// end. A commit of the store touches hundreds of pages, and on a virtual
// machine a syscall costs microseconds whatever its size, so these writes
// were a third of the store writer's CPU (docs/benchmarks.md, "WAL writes").
// This VFS sits over the default one: writes to a WAL file that continue
// the previous one are gathered in a buffer (124 KiB), which goes to the
// file in one write before anything that needs it there (a sync, a read, a
// size query, a truncate, a file control, a write elsewhere in the file,
// the close) or when it is full. Every other file, and every other operation, is the
// default VFS's own. No packaged library does this, and SQLite has no
// setting for it.
//
// Correct only when every commit syncs the WAL (`PRAGMA synchronous=FULL`,
// as SqliteDb's writers are opened): other connections find a commit's
// frames through the wal-index, which SQLite updates after that sync, so
// they never look for frames still in the buffer. A process that dies with
// frames in the buffer had not finished the commit: SQLite had not
// returned from it, as when it dies between two of its own writes.
//
// Registered with SQLite once per process, on first use (SQLite's VFS list
// is process-wide); the VFS itself holds no mutable state, and each open
// WAL file has its own buffer, used by its connection's thread only.
#pragma once

namespace parley::sqlite {

// The name to pass to sqlite3_open_v2. Thread-safe.
const char* WalWriteCoalescingVfs();

}  // namespace parley::sqlite
