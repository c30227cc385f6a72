import MultiRegion
import Testing

@Suite("Region facts from Fly's environment")
struct RegionInfoTests {
    @Test(
        "The image's tag (or short digest) tells deploys apart, without the registry or the repository",
        arguments: [
            ("registry.fly.io/users-demo:deployment-01JABCDEF", "deployment-01JABCDEF"),
            ("registry.fly.io/users-demo@sha256:0123456789abcdef0123456789abcdef", "sha256:0123456789ab"),
            ("localhost:5000/users-demo", "users-demo"),
            ("localhost:5000/users-demo:v2", "v2"),
            ("users-demo", "users-demo"),
        ]
    )
    func imageTag(reference: String, tag: String) {
        #expect(RegionInfo(region: "ord", primaryRegion: "nrt", imageRef: reference).imageTag == tag)
    }

    @Test("Without FLY_IMAGE_REF there is no tag")
    func noImage() {
        #expect(RegionInfo(region: "ord", primaryRegion: "nrt").imageTag == nil)
    }
}
