//! A SQLite VFS over the platform's default one that writes each commit's WAL frames with
//! one system call.
//!
//! SQLite appends a commit to the WAL frame by frame, and each frame with two writes: its
//! 24-byte header, then the page. A group commit of a few dozen pages is so 60-odd
//! `pwrite`s, and since a frame (4,120 bytes) straddles two pages of the kernel's page
//! cache, each write also locks, copies into and dirties a cache page of its own. This VFS
//! gathers the frames of a commit in memory, in file order, and writes them with one call
//! when the commit frame's page arrives (measured on the benchmark's machine: 0.5 µs a
//! frame instead of 1.6).
//!
//! Why that is safe:
//! - No other connection reads a frame before the commit that contains it is published in
//!   the WAL index, and SQLite publishes it only after the commit frame's write returned:
//!   by then the frames are in the file. An error of that one write is the commit's error,
//!   returned to SQLite exactly where it would have come from anyway; nothing was
//!   published, and the transaction rolls back.
//! - The connection itself reads the WAL, syncs, truncates or sizes it only after what it
//!   wrote: every such call writes what is gathered first.
//! - Frames written outside a commit (a transaction spilling pages before it commits) could
//!   be rolled back, and would then wait in memory while another writer reused their place
//!   in the file. So the connection never spills: [`open`] turns `cache_spill` off (and
//!   checks that it is off), and every frame it writes belongs to a commit.
//! - Only a frame header without the commit mark (a commit's first frame) starts a
//!   gathering. Anything else with nothing gathered (a one-page commit, the WAL header, an
//!   earlier frame rewritten) and anything not at the end of what is gathered is written at
//!   once, after what was gathered.
//!
//! Only the connections opened with [`open`] use it; every other file (the database, its
//! shared memory, temporary files) passes straight through to the default VFS.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::Path;
use std::sync::OnceLock;

use rusqlite::ffi;
use rusqlite::{Connection, OpenFlags};

/// The name the VFS is registered under.
const NAME: &CStr = c"mitai-wal-batch";
/// Size of a WAL frame header.
const FRAME_HEADER: usize = 24;
/// The most the unix VFS writes in one call (it takes the length modulo 128 KiB).
const MAX_WRITE: usize = 120 << 10;
/// Gathered bytes written early, whatever comes next (a very large commit).
const MAX_GATHERED: usize = 4 << 20;

/// Opens `path` on the WAL-batching VFS, with `cache_spill` off (see the module's notes).
pub fn open(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    register()?;
    let name = NAME.to_str().map_err(|_| rusqlite::Error::InvalidQuery)?;
    let conn = Connection::open_with_flags_and_vfs(path, flags, name)?;
    conn.pragma_update(None, "cache_spill", false)?;
    let spills: i64 = conn.pragma_query_value(None, "cache_spill", |row| row.get(0))?;
    if spills != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_MISUSE),
            Some("cache_spill cannot be turned off".into()),
        ));
    }
    Ok(conn)
}

/// Registers the VFS once, over the default VFS of the moment.
fn register() -> rusqlite::Result<()> {
    static REGISTERED: OnceLock<c_int> = OnceLock::new();
    let rc = *REGISTERED.get_or_init(|| {
        // SAFETY: `sqlite3_vfs_find` initialises SQLite if needed and returns the default
        // VFS, which lives as long as the process. The new VFS is leaked on purpose: SQLite
        // keeps a pointer to it for the life of the process.
        unsafe {
            let inner = ffi::sqlite3_vfs_find(std::ptr::null());
            if inner.is_null() {
                return ffi::SQLITE_ERROR;
            }
            let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
                iVersion: (*inner).iVersion.min(3),
                szOsFile: (inner_offset() + (*inner).szOsFile as usize) as c_int,
                mxPathname: (*inner).mxPathname,
                pNext: std::ptr::null_mut(),
                zName: NAME.as_ptr(),
                pAppData: inner.cast(),
                xOpen: Some(x_open),
                xDelete: Some(x_delete),
                xAccess: Some(x_access),
                xFullPathname: Some(x_full_pathname),
                xDlOpen: Some(x_dl_open),
                xDlError: Some(x_dl_error),
                xDlSym: Some(x_dl_sym),
                xDlClose: Some(x_dl_close),
                xRandomness: Some(x_randomness),
                xSleep: Some(x_sleep),
                xCurrentTime: Some(x_current_time),
                xGetLastError: Some(x_get_last_error),
                xCurrentTimeInt64: Some(x_current_time_int64),
                xSetSystemCall: None,
                xGetSystemCall: None,
                xNextSystemCall: None,
            }));
            ffi::sqlite3_vfs_register(vfs, 0)
        }
    });
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("registering the WAL VFS".into()),
        ))
    }
}

/// The frames of the commit being written.
#[derive(Debug, Default)]
struct Gathered {
    bytes: Vec<u8>,
    /// File offset of `bytes[0]`.
    start: i64,
    /// Where the commit frame's page goes, once its header is gathered.
    commit_page: Option<i64>,
}

impl Gathered {
    fn end(&self) -> i64 {
        self.start + self.bytes.len() as i64
    }
}

/// An open file: SQLite's part first, then this VFS's, then the default VFS's file (at
/// [`inner_offset`], in the same allocation).
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    /// Some for a WAL file.
    gathered: Option<Box<Gathered>>,
}

const fn inner_offset() -> usize {
    std::mem::size_of::<File>().next_multiple_of(16)
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};

/// The default VFS this one wraps.
unsafe fn inner_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: `pAppData` was set to the default VFS at registration.
    unsafe { (*vfs).pAppData.cast() }
}

/// This VFS's part of an open file.
unsafe fn file<'a>(f: *mut ffi::sqlite3_file) -> &'a mut File {
    // SAFETY: every file SQLite hands to these methods was opened by `x_open`, whose
    // allocation starts with a `File`; SQLite calls a file's methods one at a time.
    unsafe { &mut *f.cast::<File>() }
}

/// The default VFS's method `$m` of the file, called with `$args`; `$none` if it has none.
macro_rules! inner_call {
    ($f:expr, $m:ident, $none:expr $(, $args:expr)*) => {{
        let inner = $f.inner;
        // SAFETY: `inner` is the default VFS's open file (see `x_open`).
        match unsafe { (*(*inner).pMethods).$m } {
            Some(m) => unsafe { m(inner $(, $args)*) },
            None => $none,
        }
    }};
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    f: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives `szOsFile` bytes at `f`, suitably aligned, which this VFS sized as
    // a `File` followed by the default VFS's file.
    unsafe {
        let inner = f
            .cast::<u8>()
            .add(inner_offset())
            .cast::<ffi::sqlite3_file>();
        (*inner).pMethods = std::ptr::null();
        std::ptr::write(
            f.cast::<File>(),
            File {
                base: ffi::sqlite3_file {
                    pMethods: std::ptr::null(),
                },
                inner,
                gathered: None,
            },
        );
        let iv = inner_vfs(vfs);
        let Some(open) = (*iv).xOpen else {
            return ffi::SQLITE_CANTOPEN;
        };
        let rc = open(iv, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // A file that failed to open is not closed by SQLite; ours holds nothing yet.
            if !(*inner).pMethods.is_null()
                && let Some(close) = (*(*inner).pMethods).xClose
            {
                close(inner);
            }
            return rc;
        }
        if flags & ffi::SQLITE_OPEN_WAL != 0 {
            file(f).gathered = Some(Box::default());
        }
        (*f).pMethods = &METHODS;
        rc
    }
}

/// Writes what is gathered (if anything) and forgets it, whether or not the write worked.
fn flush(f: &mut File) -> c_int {
    let Some(g) = f.gathered.as_deref_mut() else {
        return ffi::SQLITE_OK;
    };
    if g.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let bytes = std::mem::take(&mut g.bytes);
    g.commit_page = None;
    let mut rc = ffi::SQLITE_OK;
    let mut at = g.start;
    for chunk in bytes.chunks(MAX_WRITE) {
        rc = inner_call!(
            f,
            xWrite,
            ffi::SQLITE_IOERR_WRITE,
            chunk.as_ptr().cast(),
            chunk.len() as c_int,
            at
        );
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += chunk.len() as i64;
    }
    // Keep the allocation for the next commit.
    let g = f.gathered.as_deref_mut().expect("a WAL file");
    g.bytes = bytes;
    g.bytes.clear();
    rc
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: opened by `x_open`; SQLite does not use the file after closing it.
    let this = unsafe { file(f) };
    let flushed = flush(this);
    let rc = inner_call!(this, xClose, ffi::SQLITE_OK);
    // SAFETY: drops the `File` written in `x_open` (its buffer), exactly once.
    unsafe { std::ptr::drop_in_place(f.cast::<File>()) };
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        rc
    }
}

unsafe extern "C" fn x_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let this = unsafe { file(f) };
    let rc = flush(this);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    inner_call!(this, xRead, ffi::SQLITE_IOERR_READ, buf, n, off)
}

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: i64,
) -> c_int {
    let this = unsafe { file(f) };
    let Some(g) = this.gathered.as_deref_mut() else {
        return inner_call!(this, xWrite, ffi::SQLITE_IOERR_WRITE, buf, n, off);
    };
    // SAFETY: SQLite passes `n` readable bytes at `buf`.
    let data = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), n.max(0) as usize) };
    let header = data.len() == FRAME_HEADER;
    // Bytes 4..8 of a frame header: the database's size after a commit, 0 in other frames.
    let commits = header && data[4..8] != [0, 0, 0, 0];
    if !g.bytes.is_empty() && off != g.end() {
        let rc = flush(this);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    let g = this.gathered.as_deref_mut().expect("a WAL file");
    if g.bytes.is_empty() {
        // Only a commit's first frame starts a gathering; anything else goes now.
        if !header || commits {
            return inner_call!(this, xWrite, ffi::SQLITE_IOERR_WRITE, buf, n, off);
        }
        g.start = off;
    }
    let completes = g.commit_page == Some(off);
    g.bytes.extend_from_slice(data);
    if commits {
        g.commit_page = Some(off + FRAME_HEADER as i64);
    }
    if completes || g.bytes.len() >= MAX_GATHERED {
        return flush(this);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    let this = unsafe { file(f) };
    let rc = flush(this);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    inner_call!(this, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
}

unsafe extern "C" fn x_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let this = unsafe { file(f) };
    let rc = flush(this);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    inner_call!(this, xSync, ffi::SQLITE_IOERR_FSYNC, flags)
}

unsafe extern "C" fn x_file_size(f: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    let this = unsafe { file(f) };
    let rc = flush(this);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    inner_call!(this, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
}

unsafe extern "C" fn x_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    inner_call!(unsafe { file(f) }, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn x_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    inner_call!(unsafe { file(f) }, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    inner_call!(
        unsafe { file(f) },
        xCheckReservedLock,
        ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
        out
    )
}

unsafe extern "C" fn x_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let this = unsafe { file(f) };
    let rc = flush(this);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    inner_call!(this, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn x_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    inner_call!(unsafe { file(f) }, xSectorSize, 4096)
}

unsafe extern "C" fn x_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    inner_call!(unsafe { file(f) }, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn x_shm_map(
    f: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    inner_call!(
        unsafe { file(f) },
        xShmMap,
        ffi::SQLITE_IOERR_SHMMAP,
        region,
        size,
        extend,
        out
    )
}

unsafe extern "C" fn x_shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    inner_call!(
        unsafe { file(f) },
        xShmLock,
        ffi::SQLITE_IOERR_SHMLOCK,
        offset,
        n,
        flags
    )
}

unsafe extern "C" fn x_shm_barrier(f: *mut ffi::sqlite3_file) {
    inner_call!(unsafe { file(f) }, xShmBarrier, ())
}

unsafe extern "C" fn x_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    inner_call!(unsafe { file(f) }, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn x_fetch(
    f: *mut ffi::sqlite3_file,
    off: i64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let this = unsafe { file(f) };
    match unsafe { (*(*this.inner).pMethods).xFetch } {
        Some(m) if unsafe { (*(*this.inner).pMethods).iVersion } >= 3 => unsafe {
            m(this.inner, off, n, out)
        },
        _ => {
            // No memory map: SQLite reads instead.
            unsafe { *out = std::ptr::null_mut() };
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_unfetch(f: *mut ffi::sqlite3_file, off: i64, p: *mut c_void) -> c_int {
    let this = unsafe { file(f) };
    match unsafe { (*(*this.inner).pMethods).xUnfetch } {
        Some(m) if unsafe { (*(*this.inner).pMethods).iVersion } >= 3 => unsafe {
            m(this.inner, off, p)
        },
        _ => ffi::SQLITE_OK,
    }
}

// The rest of the VFS is the default one's.

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync: c_int,
) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xDelete } {
        Some(m) => unsafe { m(iv, name, sync) },
        None => ffi::SQLITE_IOERR_DELETE,
    }
}

unsafe extern "C" fn x_access(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    out: *mut c_int,
) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xAccess } {
        Some(m) => unsafe { m(iv, name, flags, out) },
        None => ffi::SQLITE_IOERR_ACCESS,
    }
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xFullPathname } {
        Some(m) => unsafe { m(iv, name, n, out) },
        None => ffi::SQLITE_CANTOPEN,
    }
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xDlOpen } {
        Some(m) => unsafe { m(iv, name) },
        None => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let iv = unsafe { inner_vfs(vfs) };
    if let Some(m) = unsafe { (*iv).xDlError } {
        unsafe { m(iv, n, out) }
    }
}

unsafe extern "C" fn x_dl_sym(
    vfs: *mut ffi::sqlite3_vfs,
    handle: *mut c_void,
    name: *const c_char,
) -> Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)> {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xDlSym } {
        Some(m) => unsafe { m(iv, handle, name) },
        None => None,
    }
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let iv = unsafe { inner_vfs(vfs) };
    if let Some(m) = unsafe { (*iv).xDlClose } {
        unsafe { m(iv, handle) }
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xRandomness } {
        Some(m) => unsafe { m(iv, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xSleep } {
        Some(m) => unsafe { m(iv, micros) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xCurrentTime } {
        Some(m) => unsafe { m(iv, out) },
        None => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn x_get_last_error(
    vfs: *mut ffi::sqlite3_vfs,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe { (*iv).xGetLastError } {
        Some(m) => unsafe { m(iv, n, out) },
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut i64) -> c_int {
    let iv = unsafe { inner_vfs(vfs) };
    match unsafe {
        ((*iv).iVersion >= 2)
            .then_some(())
            .and((*iv).xCurrentTimeInt64)
    } {
        Some(m) => unsafe { m(iv, out) },
        None => ffi::SQLITE_ERROR,
    }
}

/// Makes SQLite grow the database file of `conn` in steps of `bytes`, and truncate it only
/// to a multiple of them (`SQLITE_FCNTL_CHUNK_SIZE`; any connection, on any VFS).
///
/// A checkpoint that copies pages past the end of the file extends it, and one that copies
/// the whole WAL truncates the file to its exact size; either way the sync that follows
/// must also write the file's new size, which on a journaling file system commits its
/// journal: 10–20 ms under a steady stream of writes, where a sync of data alone takes one
/// or two. In steps, the size changes once a step.
pub fn set_chunk_size(conn: &Connection, bytes: c_int) -> rusqlite::Result<()> {
    let mut size = bytes;
    // SAFETY: the handle is the borrowed connection's own, valid while it is borrowed and
    // used by this thread alone meanwhile; `SQLITE_FCNTL_CHUNK_SIZE` reads one int through
    // the pointer, during the call.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_CHUNK_SIZE,
            (&raw mut size).cast::<c_void>(),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("setting the database file's chunk size".into()),
        ))
    }
}

/// Flushes the database file of `conn` to disk (its VFS's `xSync`, as a checkpoint that
/// copied the whole WAL does), outside any checkpoint: any connection, on any VFS.
///
/// A passive checkpoint that leaves part of the WAL uncopied (under a steady stream of
/// commits, nearly every one) writes its pages into the file without syncing it; the first
/// checkpoint to copy the whole WAL then syncs all of them at once. A connection that syncs
/// after its own rounds leaves that one little to write.
pub fn sync_database(conn: &Connection) -> rusqlite::Result<()> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: the handle is the borrowed connection's own, valid while it is borrowed and
    // used by this thread alone meanwhile; `SQLITE_FCNTL_FILE_POINTER` writes the main
    // database's file object (owned by the connection's pager) through the pointer. That
    // object and its methods stay valid while the connection is open and unused by others,
    // and `xSync` takes no lock: it flushes the file's written pages.
    let rc = unsafe {
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast::<c_void>(),
        );
        if rc != ffi::SQLITE_OK || file.is_null() || (*file).pMethods.is_null() {
            rc
        } else {
            match (*(*file).pMethods).xSync {
                Some(sync) => sync(file, ffi::SQLITE_SYNC_NORMAL),
                None => ffi::SQLITE_OK,
            }
        }
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(rc),
            Some("syncing the database file".into()),
        ))
    }
}
