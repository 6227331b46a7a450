import Foundation

/// Where the tool writes: results to stdout, errors and hints to stderr.
enum Output {
    static func line(_ text: String = "") {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func json(_ value: JSON) {
        line(value.rendered())
    }
}
