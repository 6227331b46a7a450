import ArgumentParser

/// A length of time written as `90m`, `12h`, `30d`, `3600s`, or combined, `1h30m`.
/// A bare number is refused: seconds or days would both be a plausible reading.
struct DurationArgument: ExpressibleByArgument, Equatable, CustomStringConvertible {
    var seconds: UInt64

    static let units: [(suffix: Character, seconds: UInt64)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]

    init(seconds: UInt64) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let text = argument.lowercased()
        var total: UInt64 = 0
        var number = ""
        var sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
            } else if let unit = Self.units.first(where: { $0.suffix == character }) {
                guard let value = UInt64(number) else { return nil }
                let (scaled, overflow1) = value.multipliedReportingOverflow(by: unit.seconds)
                let (sum, overflow2) = total.addingReportingOverflow(scaled)
                guard !overflow1, !overflow2 else { return nil }
                total = sum
                number = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard sawUnit, number.isEmpty, total > 0 else { return nil }
        seconds = total
    }

    static var defaultCompletionKind: CompletionKind { .default }

    /// The largest unit that divides exactly: 86400 → `1d`, 5400 → `90m`.
    var description: String {
        guard seconds > 0 else { return "0s" }
        for unit in Self.units where seconds % unit.seconds == 0 {
            return "\(seconds / unit.seconds)\(unit.suffix)"
        }
        return "\(seconds)s"
    }
}

extension DurationArgument {
    /// For `@Option(transform:)`: a message that shows the accepted forms.
    static func parse(_ text: String) throws -> DurationArgument {
        guard let value = DurationArgument(argument: text) else {
            throw ValidationError("'\(text)' is not a duration: use a number and a unit, e.g. 90m, 12h, 30d, 3600s")
        }
        return value
    }
}
