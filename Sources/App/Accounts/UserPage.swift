/// Which page of the users list to show; pages are keyset pages, newest user first.
enum PageRequest: Sendable, Equatable {
    case first
    /// Users with an id below this one (the next, older page).
    case olderThan(Int64)
    /// Users with an id above this one (the previous, newer page).
    case newerThan(Int64)
}

/// One page of users, with cursors for the neighbouring pages when they exist.
struct UserPage: Sendable, Equatable {
    let users: [User]
    /// Pass as `olderThan` for the next page.
    let olderThanCursor: Int64?
    /// Pass as `newerThan` for the previous page.
    let newerThanCursor: Int64?
}
