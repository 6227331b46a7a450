/// UTC times for tables, JSON and --since/--until/--expires-at, done with integer
/// calendar arithmetic so output never depends on the machine's time zone or locale.
enum Timestamp {
    /// `yyyy-MM-dd HH:mm`, the key table's format; "-" when unset (0).
    static func minutes(_ milliseconds: Int64) -> String {
        guard milliseconds != 0 else { return "-" }
        let c = Civil(milliseconds)
        return "\(c.date) \(pad(c.hour)):\(pad(c.minute))"
    }

    /// `yyyy-MM-dd HH:mm:ss`, for events where the order within a minute matters.
    static func seconds(_ milliseconds: Int64) -> String {
        guard milliseconds != 0 else { return "-" }
        let c = Civil(milliseconds)
        return "\(c.date) \(pad(c.hour)):\(pad(c.minute)):\(pad(c.second))"
    }

    /// ISO 8601 in UTC, `2025-01-02T03:04:05Z`, with milliseconds only when there are some.
    static func iso8601(_ milliseconds: Int64) -> String {
        let c = Civil(milliseconds)
        let fraction = c.millisecond == 0 ? "" : "." + pad(c.millisecond, 3)
        return "\(c.date)T\(pad(c.hour)):\(pad(c.minute)):\(pad(c.second))\(fraction)Z"
    }

    /// Parses `2025-01-02`, `2025-01-02T03:04`, `2025-01-02T03:04:05.123Z`, `...+02:00`;
    /// a space may stand for the `T` (so a table cell can be pasted). No zone means UTC.
    static func parse(_ text: String) -> Int64? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.number(digits: 4), scanner.skip("-"),
              let month = scanner.number(digits: 2), scanner.skip("-"),
              let day = scanner.number(digits: 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var hour = 0, minute = 0, second = 0, millisecond = 0, offsetMinutes = 0
        if scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") {
            guard let h = scanner.number(digits: 2), scanner.skip(":"), let m = scanner.number(digits: 2),
                  h < 24, m < 60 else { return nil }
            hour = h
            minute = m
            if scanner.skip(":") {
                guard let s = scanner.number(digits: 2), s < 60 else { return nil }
                second = s
                if scanner.skip(".") {
                    guard let digits = scanner.digits(), !digits.isEmpty else { return nil }
                    // Milliseconds: the first three digits, padded.
                    let firstThree = (digits + [48, 48, 48]).prefix(3)
                    millisecond = Int(String(decoding: firstThree, as: UTF8.self)) ?? 0
                }
            }
            if scanner.skip("Z") || scanner.skip("z") {
            } else if let sign = scanner.sign() {
                guard let oh = scanner.number(digits: 2) else { return nil }
                _ = scanner.skip(":")
                guard let om = scanner.number(digits: 2), oh < 24, om < 60 else { return nil }
                offsetMinutes = sign * (oh * 60 + om)
            }
        }
        guard scanner.atEnd else { return nil }
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let secondsOfDay = Int64(hour * 3600 + minute * 60 + second - offsetMinutes * 60)
        return (days * 86_400 + secondsOfDay) * 1000 + Int64(millisecond)
    }

    private static func pad(_ value: Int, _ width: Int = 2) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// A UTC calendar breakdown of Unix milliseconds (Hinnant's civil_from_days).
    private struct Civil {
        var year, month, day, hour, minute, second, millisecond: Int

        init(_ milliseconds: Int64) {
            let ms = Int(milliseconds)
            let (secondsTotal, msPart) = ms.quotientAndRemainderFloored(by: 1000)
            let (days, secondOfDay) = secondsTotal.quotientAndRemainderFloored(by: 86_400)
            let z = days + 719_468
            let era = (z >= 0 ? z : z - 146_096) / 146_097
            let doe = z - era * 146_097
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
            let mp = (5 * doy + 2) / 153
            day = doy - (153 * mp + 2) / 5 + 1
            month = mp < 10 ? mp + 3 : mp - 9
            year = yoe + era * 400 + (month <= 2 ? 1 : 0)
            hour = secondOfDay / 3600
            minute = secondOfDay % 3600 / 60
            second = secondOfDay % 60
            millisecond = msPart
        }

        var date: String { "\(Timestamp.pad(year, 4))-\(Timestamp.pad(month))-\(Timestamp.pad(day))" }
    }

    /// Reads ASCII bytes left to right.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }

        mutating func skip(_ character: Character) -> Bool {
            guard index < bytes.count, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }

        mutating func sign() -> Int? {
            if skip("+") { return 1 }
            if skip("-") { return -1 }
            return nil
        }

        mutating func number(digits count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            let slice = bytes[index..<index + count]
            guard slice.allSatisfy({ (48...57).contains($0) }) else { return nil }
            index += count
            return slice.reduce(0) { $0 * 10 + Int($1 - 48) }
        }

        mutating func digits() -> [UInt8]? {
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            return Array(bytes[start..<index])
        }
    }
}

extension Int {
    /// Division rounding toward negative infinity, so times before 1970 break down correctly.
    func quotientAndRemainderFloored(by divisor: Int) -> (Int, Int) {
        var (q, r) = quotientAndRemainder(dividingBy: divisor)
        if r < 0 { q -= 1; r += divisor }
        return (q, r)
    }
}
