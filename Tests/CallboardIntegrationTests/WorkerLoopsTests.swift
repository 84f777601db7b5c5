import CallboardDomain
import Foundation
import Synchronization
import Testing

@testable import CallboardServices

/// Holds every send until `opening` are in flight at once (or `patience` passes), then lets every
/// send through: whether the gate opened by count says whether that many ran side by side.
final class GatedTransport: EmailTransport {
    let opening: Int
    let patience: Duration
    let inFlight = Mutex(0)
    let openedByCount = Mutex<Bool?>(nil)
    let sent = Mutex<[UUID]>([])
    var name: String { "gated" }

    init(opening: Int, patience: Duration) {
        self.opening = opening
        self.patience = patience
    }

    func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        inFlight.withLock { $0 += 1 }
        let deadline = ContinuousClock.now + patience
        while openedByCount.withLock({ $0 }) == nil {
            if inFlight.withLock({ $0 }) >= opening {
                openedByCount.withLock { if $0 == nil { $0 = true } }
            } else if ContinuousClock.now >= deadline {
                openedByCount.withLock { if $0 == nil { $0 = false } }
            } else {
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        sent.withLock { $0.append(email.id) }
        inFlight.withLock { $0 -= 1 }
    }
    func shutdown() async {}
}

@Suite struct WorkerLoopsTests {
    @Test func oneRingWakesEveryWaitingLoopAndARingWithNoneWaitingIsKept() async throws {
        let bell = Doorbell()
        let started = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            for _ in 0..<3 { group.addTask { await bell.wait(seconds: 60) } }
            while await bell.waiting < 3 { await Task.yield() }
            await bell.ring()
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(await bell.waiting == 0)
        await bell.ring()
        let kept = ContinuousClock.now
        await bell.wait(seconds: 60)
        #expect(ContinuousClock.now - kept < .seconds(10))
    }

    @Test func aWaitersOwnTimeoutOrCancellationReleasesOnlyIt() async throws {
        let bell = Doorbell()
        let long = Task { await bell.wait(seconds: 60) }
        while await bell.waiting < 1 { await Task.yield() }
        await bell.wait(seconds: 0.05)
        #expect(await bell.waiting == 1)
        let cancelled = ContinuousClock.now
        long.cancel()
        await long.value
        #expect(ContinuousClock.now - cancelled < .seconds(5))
        #expect(await bell.waiting == 0)
    }

    @Test func twoLoopsSendTwoBatchesAtOnceAndEveryEmailOnce() async throws {
        try await TestApp.run { app in
            try await app.queueEmails(40)
            // One loop sends at most 4 at once; only a second loop's batch can make a fifth.
            let t = GatedTransport(opening: 5, patience: .seconds(20))
            var s = WorkerSettings()
            s.batchSize = 4
            s.concurrency = 4
            s.loops = 2
            s.pollSeconds = 0.05
            let worker = EmailWorker(
                db: app.db, listenURL: nil, transport: t, settings: s, email: EmailSettings(), time: app.clock,
                logger: TestDatabase.logger)
            let running = Task { try await worker.run() }
            let deadline = ContinuousClock.now + .seconds(60)
            while try await app.count("emails WHERE status = 'sent'") < 40, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let stopping = ContinuousClock.now
            running.cancel()
            _ = await running.result
            #expect(ContinuousClock.now - stopping < .seconds(5))
            #expect(t.openedByCount.withLock { $0 } == true)
            let ids = t.sent.withLock { $0 }
            #expect(ids.count == 40)
            #expect(Set(ids).count == 40)
            #expect(try await app.count("emails WHERE status = 'sent'") == 40)
            #expect(try await app.count("email_attempts") == 40)
        }
    }
}
