import Hummingbird
import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

@Suite("Forms that override their method")
struct MethodOverrideTests {
    @Test("_method overrides only to PUT, PATCH and DELETE")
    func methodOverride() {
        #expect(MethodOverride.overriddenMethod(in: "name=a&_method=delete") == .delete)
        #expect(MethodOverride.overriddenMethod(in: "_method=PATCH") == .patch)
        #expect(MethodOverride.overriddenMethod(in: "_method=GET") == nil)
        #expect(MethodOverride.overriddenMethod(in: "name=x") == nil)
    }
}
