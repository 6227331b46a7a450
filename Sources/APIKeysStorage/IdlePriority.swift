#if canImport(Glibc)
import Glibc
#endif

/// Runs work in Linux's SCHED_IDLE class: only when the CPU would otherwise idle, preempted
/// at once by a waking event loop. For the usage write, a few hundred milliseconds of SQLite
/// work after a busy second that would otherwise delay Verify calls on the same core.
///
/// Only around code that starts no threads (a few SQLite statements): a thread inherits its
/// creator's class, so a thread started from inside would run at idle priority for good.
/// The class is the running thread's, which may be a Dispatch worker running GRDB's queue:
/// it is restored when the work returns.
public enum IdlePriority {
    static let schedIdle: Int32 = 5  // SCHED_IDLE, not exported by Glibc's Swift module

    public static func during<T>(_ body: () throws -> T) rethrows -> T {
        #if os(Linux)
        let previous = sched_getscheduler(0)  // 0: this thread
        var parameters = sched_param(sched_priority: 0)
        let switched = previous >= 0 && previous != schedIdle && sched_setscheduler(0, schedIdle, &parameters) == 0
        defer {
            if switched { _ = sched_setscheduler(0, previous, &parameters) }
        }
        #endif
        return try body()
    }

    /// This thread's scheduling policy; for tests.
    public static func currentPolicy() -> Int32 {
        #if os(Linux)
        sched_getscheduler(0)
        #else
        -1
        #endif
    }
}
