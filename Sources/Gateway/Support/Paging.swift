/// `page` / `per_page` query parameters.
enum Paging {
    static func perPage(_ query: QueryParameters, _ issues: inout Issues, defaultValue: Int = 50) -> Int {
        guard let text = query["per_page"] else { return defaultValue }
        guard let value = Int(text), (1...100).contains(value) else {
            issues.add("per_page", "must be an integer in 1...100")
            return defaultValue
        }
        return value
    }

    static func page(_ query: QueryParameters, _ issues: inout Issues) -> Int {
        guard let text = query["page"] else { return 1 }
        guard let value = Int(text), value >= 1, value <= 1_000_000 else {
            issues.add("page", "must be an integer in 1...1000000")
            return 1
        }
        return value
    }
}
