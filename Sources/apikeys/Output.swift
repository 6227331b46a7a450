#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the tool writes: results to stdout, errors and hints to stderr.
///
/// Writes go straight to the file descriptor with `write(2)`. A reader that went away
/// (`apikeys keys list | head -1`) ends the process the way it ends `cat`, `gh` and
/// `kubectl`: killed by SIGPIPE, silently, which a shell reports as exit status 141.
/// (Foundation's `FileHandle.write` traps on EPIPE instead: SIGILL and a backtrace.)
enum Output {
    static func line(_ text: String = "") {
        write(text + "\n", to: STDOUT_FILENO)
    }

    static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// A prompt: no newline, so the answer is typed on the same line.
    static func prompt(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    static func json(_ value: JSON) {
        line(value.rendered())
    }

    /// Socket writes must never raise SIGPIPE (NIO reports those as errors); only a
    /// closed stdout or stderr ends the process, through `brokenPipe()`.
    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }

    private static func write(_ text: String, to descriptor: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                #if canImport(Glibc)
                Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                Darwin.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
            }
            if written >= 0 {
                offset += written
            } else if errno == EINTR {
                continue
            } else if errno == EPIPE {
                brokenPipe()
            } else {
                // EBADF and the like (the descriptor was closed): like printf, drop the text.
                return
            }
        }
    }

    /// Dies of SIGPIPE like any Unix filter whose reader is gone: no message, no backtrace.
    private static func brokenPipe() -> Never {
        signal(SIGPIPE, SIG_DFL)
        raise(SIGPIPE)
        // Only if the signal is blocked in this thread: the status a shell would show.
        _exit(128 + SIGPIPE)
    }
}
