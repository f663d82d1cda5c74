#include "sqlite/wal_write_coalescing_vfs.h"

#include <sqlite3.h>

#include <cstring>
#include <mutex>

namespace parley::sqlite {

namespace {

constexpr char kName[] = "parley-wal-coalescing";
// The default VFS writes at most 128 KiB - 1 bytes per call (it masks the
// length of a larger write, and reports the disk full); 30 frames of 4 KiB
// pages per write already make the syscalls' cost small beside the copy.
constexpr sqlite3_int64 kBufferMax = 124 << 10;

// The default VFS, set once by Register().
sqlite3_vfs* Base(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// A WAL file. SQLite allocates szOsFile bytes for it; the default VFS's own
// file object follows this header in the same allocation.
struct WalFile {
  sqlite3_file base;  // pMethods = &kWalMethods
  sqlite3_file* real;
  char* buf;  // kBufferMax bytes, sqlite3_malloc'd at the first write
  sqlite3_int64 buf_len;
  sqlite3_int64 buf_offset;  // file offset of buf[0]
};
// Keeps the default VFS's file object that follows it aligned.
static_assert(sizeof(WalFile) % 8 == 0);

WalFile* AsWal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
const sqlite3_io_methods& Real(WalFile* w) { return *w->real->pMethods; }

int Flush(WalFile* w) {
  if (w->buf_len == 0) return SQLITE_OK;
  int rc = Real(w).xWrite(w->real, w->buf, static_cast<int>(w->buf_len), w->buf_offset);
  w->buf_len = 0;
  return rc;
}

int WalClose(sqlite3_file* f) {
  WalFile* w = AsWal(f);
  int rc = Flush(w);
  int close_rc = Real(w).xClose(w->real);
  sqlite3_free(w->buf);
  w->buf = nullptr;
  return rc != SQLITE_OK ? rc : close_rc;
}

int WalRead(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
  WalFile* w = AsWal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return Real(w).xRead(w->real, out, n, offset);
}

int WalWrite(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  WalFile* w = AsWal(f);
  if (w->buf_len > 0 && (offset != w->buf_offset + w->buf_len || w->buf_len + n > kBufferMax)) {
    if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  }
  if (n > kBufferMax) return Real(w).xWrite(w->real, data, n, offset);
  if (w->buf == nullptr) {
    w->buf = static_cast<char*>(sqlite3_malloc64(kBufferMax));
    // Out of memory: write through rather than fail the commit.
    if (w->buf == nullptr) return Real(w).xWrite(w->real, data, n, offset);
  }
  if (w->buf_len == 0) w->buf_offset = offset;
  std::memcpy(w->buf + w->buf_len, data, static_cast<size_t>(n));
  w->buf_len += n;
  return SQLITE_OK;
}

int WalTruncate(sqlite3_file* f, sqlite3_int64 size) {
  WalFile* w = AsWal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return Real(w).xTruncate(w->real, size);
}

int WalSync(sqlite3_file* f, int flags) {
  WalFile* w = AsWal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return Real(w).xSync(w->real, flags);
}

int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  WalFile* w = AsWal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return Real(w).xFileSize(w->real, size);
}

int WalLock(sqlite3_file* f, int level) { return Real(AsWal(f)).xLock(AsWal(f)->real, level); }
int WalUnlock(sqlite3_file* f, int level) { return Real(AsWal(f)).xUnlock(AsWal(f)->real, level); }
int WalCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(AsWal(f)).xCheckReservedLock(AsWal(f)->real, out);
}

int WalFileControl(sqlite3_file* f, int op, void* arg) {
  WalFile* w = AsWal(f);
  if (int rc = Flush(w); rc != SQLITE_OK) return rc;
  return Real(w).xFileControl(w->real, op, arg);
}

int WalSectorSize(sqlite3_file* f) { return Real(AsWal(f)).xSectorSize(AsWal(f)->real); }
int WalDeviceCharacteristics(sqlite3_file* f) {
  return Real(AsWal(f)).xDeviceCharacteristics(AsWal(f)->real);
}

// Version 1: SQLite maps shared memory and pages through the database file,
// never through its WAL.
constexpr sqlite3_io_methods kWalMethods = {
    1,
    WalClose,
    WalRead,
    WalWrite,
    WalTruncate,
    WalSync,
    WalFileSize,
    WalLock,
    WalUnlock,
    WalCheckReservedLock,
    WalFileControl,
    WalSectorSize,
    WalDeviceCharacteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  sqlite3_vfs* base = Base(vfs);
  // Anything but a WAL is the default VFS's file, in the space SQLite gave.
  if ((flags & SQLITE_OPEN_WAL) == 0) return base->xOpen(base, name, f, flags, out_flags);
  WalFile* w = AsWal(f);
  std::memset(w, 0, sizeof(WalFile));
  w->real = reinterpret_cast<sqlite3_file*>(w + 1);
  int rc = base->xOpen(base, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite calls xClose only when pMethods is set.
    if (w->real->pMethods != nullptr) w->real->pMethods->xClose(w->real);
    w->base.pMethods = nullptr;
    return rc;
  }
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// The rest is the default VFS's.
int Delete(sqlite3_vfs* v, const char* name, int sync_dir) {
  return Base(v)->xDelete(Base(v), name, sync_dir);
}
int Access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return Base(v)->xAccess(Base(v), name, flags, out);
}
int FullPathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return Base(v)->xFullPathname(Base(v), name, n, out);
}
void* DlOpen(sqlite3_vfs* v, const char* name) { return Base(v)->xDlOpen(Base(v), name); }
void DlError(sqlite3_vfs* v, int n, char* out) { Base(v)->xDlError(Base(v), n, out); }
void (*DlSym(sqlite3_vfs* v, void* lib, const char* sym))(void) {
  return Base(v)->xDlSym(Base(v), lib, sym);
}
void DlClose(sqlite3_vfs* v, void* lib) { Base(v)->xDlClose(Base(v), lib); }
int Randomness(sqlite3_vfs* v, int n, char* out) { return Base(v)->xRandomness(Base(v), n, out); }
int Sleep(sqlite3_vfs* v, int us) { return Base(v)->xSleep(Base(v), us); }
int CurrentTime(sqlite3_vfs* v, double* out) { return Base(v)->xCurrentTime(Base(v), out); }
int GetLastError(sqlite3_vfs* v, int n, char* out) {
  return Base(v)->xGetLastError(Base(v), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* v, sqlite3_int64* out) {
  return Base(v)->xCurrentTimeInt64(Base(v), out);
}

void Register() {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  // Never freed: SQLite keeps a pointer to it for the life of the process.
  static sqlite3_vfs vfs = {};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = base;
  vfs.xOpen = Open;
  vfs.xDelete = Delete;
  vfs.xAccess = Access;
  vfs.xFullPathname = FullPathname;
  vfs.xDlOpen = DlOpen;
  vfs.xDlError = DlError;
  vfs.xDlSym = DlSym;
  vfs.xDlClose = DlClose;
  vfs.xRandomness = Randomness;
  vfs.xSleep = Sleep;
  vfs.xCurrentTime = CurrentTime;
  vfs.xGetLastError = GetLastError;
  vfs.xCurrentTimeInt64 = CurrentTimeInt64;
  sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
}

}  // namespace

const char* WalWriteCoalescingVfs() {
  static std::once_flag once;
  std::call_once(once, Register);
  return kName;
}

}  // namespace parley::sqlite
