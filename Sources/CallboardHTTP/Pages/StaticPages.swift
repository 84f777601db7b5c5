/// The pages every public page links to: accessibility statement, privacy notice, cookies.
struct StaticPages {
    struct Section {
        var heading: String
        var paragraphs: [String]
    }

    var title: String
    var intro: [String]
    var sections: [Section]

    var context: [String: Any] {
        ["title": title, "intro": intro, "sections": sections.map { ["heading": $0.heading, "paragraphs": $0.paragraphs] as [String: Any] }]
    }

    static let all: [(String, StaticPages)] = [("/accessibility", accessibility), ("/privacy", privacy), ("/cookies", cookies)]

    static let accessibility = StaticPages(
        title: "Accessibility statement",
        intro: [
            "This statement applies to Callboard, the GOV.UK Performance Platform's service for requesting dashboards, giving their information, approving their publication and uploading their data."
        ],
        sections: [
            Section(
                heading: "How accessible this service is",
                paragraphs: [
                    "Every page is tested with axe-core against the Web Content Accessibility Guidelines version 2.1 AA and its best practices, and the main journeys are tested with a keyboard only.",
                    "The pages work without JavaScript, can be zoomed to 400% and follow the GOV.UK Design System's patterns.",
                ]),
            Section(
                heading: "Reporting problems",
                paragraphs: [
                    "If you find a problem or need information in another format, reply to any email we have sent you or write to the Performance Platform team. We reply within 5 working days."
                ]),
            Section(
                heading: "Enforcement procedure",
                paragraphs: [
                    "The Equality and Human Rights Commission enforces the Public Sector Bodies (Websites and Mobile Applications) (No. 2) Accessibility Regulations 2018. If you are not happy with how we respond to your complaint, contact the Equality Advisory and Support Service (EASS)."
                ]),
        ])

    static let privacy = StaticPages(
        title: "Privacy notice",
        intro: [
            "The GOV.UK Performance Platform team, part of the Government Digital Service, is the data controller for the information you give here."
        ],
        sections: [
            Section(
                heading: "What we collect",
                paragraphs: [
                    "Names, work email addresses and telephone numbers of the service contact, the sign-off owner and the people who upload data; what you tell us about the service; and the time and address of each request to this website, to stop abuse."
                ]),
            Section(
                heading: "Why we collect it",
                paragraphs: [
                    "To build, publish and keep up to date a dashboard for your service: to contact you about the information we need, to ask for sign-off and to remind uploaders when data is due. Our lawful basis is public task."
                ]),
            Section(
                heading: "How long we keep it",
                paragraphs: [
                    "An application you do not confirm is deleted after 7 days. Once confirmed, a request and its history are kept while the dashboard exists. The text of emails we send is deleted after 90 days; a record that each was sent is kept. Links in emails stop working when they expire and are deleted after that."
                ]),
            Section(
                heading: "Who we share it with",
                paragraphs: [
                    "Nobody outside government. Emails are sent through GOV.UK Notify or the government's mail servers."
                ]),
            Section(
                heading: "Contact us",
                paragraphs: [
                    "To see, correct or delete what we hold about you, or to complain, write to the Performance Platform team or to the GDS data protection officer. You can also complain to the Information Commissioner's Office."
                ]),
        ])

    static let cookies = StaticPages(
        title: "Cookies",
        intro: [
            "Callboard puts small files (cookies) on your device only where the service cannot work without them. We do not use analytics or advertising cookies, so we do not ask for consent."
        ],
        sections: [
            Section(
                heading: "Strictly necessary cookies",
                paragraphs: [
                    "cb_apply: keeps your answers while you apply for a dashboard. It is deleted when you send the application, and expires after 7 days.",
                    "cb_session: keeps members of the Performance Platform team signed in. It expires after 12 hours or when they sign out.",
                    "Forms carry a one-off token of their own against cross-site forgery, kept with the application or the session: no other cookie is set.",
                ])
        ])
}
