import Foundation
import Glibc
import NIOPosix

/// Writes each message as `<id>.eml` in a folder: the default for local runs. Writing the same
/// email again replaces the file, so a resend never makes a duplicate. The files are delivered mail
/// with working links, so the folder is 0700 and each file 0600 (only the owner reads them).
public struct FileTransport: EmailTransport {
    public let directory: URL
    /// Its own threads for the blocking writes, one a send the worker runs at once: NIO's shared
    /// pool has one a core, and two `fsync`s at a time held a worker to about half of what this
    /// disk syncs with sixteen (docs/performance.md).
    let disk: NIOThreadPool
    public var name: String { "file" }

    public init(directory: String, threads: Int = 16) throws {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(
            at: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        disk = NIOThreadPool(numberOfThreads: max(1, threads))
        disk.start()
    }

    public func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        let folder = directory.path
        let name = email.id.lowercasedString
        let message = MIMEMessage.bytes(email)
        // Blocking file calls go to the transport's threads, not the cooperative ones the sends share.
        let failure: String?
        do {
            failure = try await disk.runIfActive {
                Self.write(message, to: folder + "/" + name + ".eml", via: folder + "/." + name + ".tmp")
            }
        } catch {
            throw .temporary("cannot write \(folder)/\(name).eml: \(error)")
        }
        if let failure { throw .temporary(failure) }
    }

    /// The message written to `temp`, synced, then renamed onto `target`: rename(2) is atomic, so
    /// a reader sees the whole message or none of it, and once this returns it is on disk. Returns
    /// what failed, or nil.
    static func write(_ bytes: [UInt8], to target: String, via temp: String) -> String? {
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create \(temp): errno \(errno)" }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let e = errno
                close(fd)
                unlink(temp)
                return "cannot write \(temp): errno \(e)"
            }
            written += n
        }
        let synced = fsync(fd) == 0
        let syncError = errno
        let closed = close(fd) == 0
        guard synced && closed else {
            let e = synced ? errno : syncError
            unlink(temp)
            return "cannot sync \(temp): errno \(e)"
        }
        if rename(temp, target) != 0 { return "rename failed: errno \(errno)" }
        return nil
    }

    /// Stops its threads: a transport shut down writes nothing more (a worker shuts it down when
    /// it stops, after its last send).
    public func shutdown() async {
        try? await disk.shutdownGracefully()
    }
}
