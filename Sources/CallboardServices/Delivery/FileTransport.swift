import Foundation

/// Writes each message as `<id>.eml` in a folder: the default for local runs. Writing the same
/// email again replaces the file, so a resend never makes a duplicate. The files are delivered mail
/// with working links, so the folder is 0700 and each file 0600 (only the owner reads them).
public struct FileTransport: EmailTransport {
    public let directory: URL
    public var name: String { "file" }

    public init(directory: String) throws {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
        try FileManager.default.createDirectory(
            at: self.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        let target = directory.appendingPathComponent(email.id.lowercasedString + ".eml")
        let temp = directory.appendingPathComponent("." + email.id.lowercasedString + ".tmp")
        do {
            guard
                FileManager.default.createFile(
                    atPath: temp.path, contents: Data(MIMEMessage.render(email).utf8), attributes: [.posixPermissions: 0o600])
            else { throw DeliveryError.temporary("cannot create \(temp.path)") }
            // rename(2) is atomic: a reader sees the whole message or none of it.
            if rename(temp.path, target.path) != 0 { throw DeliveryError.temporary("rename failed: errno \(errno)") }
        } catch let e as DeliveryError {
            throw e
        } catch {
            throw .temporary("cannot write \(target.path): \(error.localizedDescription)")
        }
    }

    public func shutdown() async {}
}
