#if canImport(Glibc)
import Glibc
#endif

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs when the CPU would
/// otherwise idle, and a waking event loop thread preempts it at once. The usage flush
/// (up to a few hundred milliseconds of SQLite work after a busy second) then never
/// delays a Verify; under full saturation it is slowed, and usage waits in memory (it is
/// also written in small transactions, so a slowed flush holds the write lock briefly).
enum BackgroundPriority {
    static func applyToCurrentThread() {
        #if os(Linux)
        var parameters = sched_param(sched_priority: 0)
        let schedIdle: Int32 = 5  // SCHED_IDLE, not exported by Glibc's Swift module
        _ = sched_setscheduler(0, schedIdle, &parameters)  // 0: this thread
        #endif
    }
}
