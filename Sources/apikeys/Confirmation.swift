#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks before a command destroys something: `Revoke key key_1? [y/N]` on a terminal.
///
/// With stdin not a terminal (a script, a pipe, CI) there is nobody to ask, and a script
/// that forgot `--yes` more likely has a bug than a wish to delete: it is refused with
/// exit 64, before any call is made.
enum Confirmation {
    /// Returns when the user said yes (or gave --yes); throws a usage or cancelled failure otherwise.
    static func confirm(_ action: String, yes: Bool) throws {
        if yes { return }
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIFailure.usage("refusing to \(action) without confirmation: stdin is not a terminal; pass --yes")
        }
        Output.prompt("\(action.prefix(1).uppercased())\(action.dropFirst())? [y/N] ")
        let answer = readLine(strippingNewline: true)?.trimmingWhitespace.lowercased() ?? ""
        guard answer == "y" || answer == "yes" else {
            throw CLIFailure(code: "CANCELLED", message: "cancelled: did not \(action)", exitStatus: ExitStatus.cancelled)
        }
    }
}

private extension String {
    var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
