import Foundation

/// CPU seconds (user + system) for the benchmarks, read from Linux's /proc: this process's own,
/// and the sum over every process named `postgres` on the machine (the server the bench started).
enum CPUTime {
    static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func postgresSeconds() -> Double {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var ticks = 0
        for pid in pids where pid.first?.isNumber == true {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"), stat.contains("(postgres)")
            else { continue }
            // Fields after the command name: state is the 3rd field, utime and stime the 14th and 15th.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { continue }
            ticks += user + system
        }
        return Double(ticks) / ticksPerSecond
    }
}
