import CallboardDomain
import CallboardStorage
import Foundation

/// One reminder as a section of a digest email: what is missing or due, and the link to act.
public struct DigestItem: Sendable, Equatable {
    public var headline: String
    public var lines: [String]
    public var action: String
    public var link: String

    var context: TemplateValue {
        .object([
            "headline": .text(headline), "lines": .list(lines.map(TemplateValue.text)), "has_lines": .flag(!lines.isEmpty),
            "action": .text(action), "link": .text(link),
        ])
    }
}

/// The words of each reminder. Links lead to the team's page of the request; the scheduler swaps in
/// the contact's, the owner's and each uploader's links of their own.
enum ReminderMessages {
    static func item(
        _ owed: OwedReminder, request r: RequestRecord, dataSet: DataSetRecord?, sla: PreviewSLASettings,
        reminders: ReminderSettings, baseURL: String, now: Date
    ) -> DigestItem {
        let service = r.checklist.serviceName ?? "your service"
        let requestLink = "\(baseURL)/staff/requests/\(r.id.lowercasedString)"
        let missing = r.checklist.unsettledRequiredItems(for: r.kind).map { "\($0.title): not provided yet" }
        switch owed.kind {
        case .missingInformation:
            return DigestItem(
                headline: "We still need information for the \(service) dashboard", lines: missing,
                action: "Provide the missing information", link: requestLink)
        case .missingInformationEscalation:
            return DigestItem(
                headline: "\(service): information still missing after \(reminders.missingInformationMax) reminders",
                lines: missing + ["Service contact: \(r.checklist.contactEmail ?? "not given")"], action: "Open the request", link: requestLink)
        case .signOffUndecided:
            return DigestItem(
                headline: "Please decide whether the \(service) dashboard can be published",
                lines: ["We asked you on \(London.date(of: r.stateEnteredAt).longText)."], action: "Approve or request changes",
                link: requestLink)
        case .signOffEscalation:
            return DigestItem(
                headline: "\(service): sign-off still undecided after \(reminders.signOffMax) reminders",
                lines: [
                    "Sign-off owner: \(r.checklist.signOffEmail ?? "not given")",
                    "Asked on \(London.date(of: r.stateEnteredAt).longText).",
                ], action: "Open the request", link: requestLink)
        case .previewAtRisk, .previewBreached:
            let due = r.sla.map { London.date(of: $0.dueAt.addingTimeInterval(-1)) }.map(\.longText) ?? "unknown"
            let headline =
                owed.kind == .previewAtRisk
                ? "\(service): the preview is due by the end of \(due)"
                : "\(service): the preview promise was broken (due by the end of \(due))"
            return DigestItem(headline: headline, lines: ["State: \(r.state.title)"], action: "Open the request", link: requestLink)
        case .uploadDueSoon, .uploadDue, .uploadOverdue:
            guard let d = dataSet else { return DigestItem(headline: service, lines: [], action: "Open the request", link: requestLink) }
            let calendar = sla.calendar(for: r.division)
            let period = d.schedule.currentPeriod(on: London.date(of: now))
            let due = d.schedule.due(for: period, calendar: calendar).date.longText
            let what = "\(d.name) data for \(period.start.longText) to \(period.end.longText)"
            let headline: String
            switch owed.kind {
            case .uploadDueSoon: headline = "\(what) is due on \(due)"
            case .uploadDue: headline = "\(what) is due today, \(due)"
            default: headline = "\(what) was due on \(due) and has not arrived"
            }
            return DigestItem(
                headline: headline, lines: ["Dashboard: \(service)", "Uploaders: \(d.uploaders.map(\.email).joined(separator: ", "))"],
                action: "Upload the data", link: "\(baseURL)/data-sets/\(d.id.lowercasedString)/upload")
        case .productAuditDue:
            return DigestItem(headline: "\(service): the product audit is due", lines: [], action: "Open the request", link: requestLink)
        }
    }
}
