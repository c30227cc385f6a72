import Configuration
import Guestbook
import Hummingbird

let app = try buildGuestbook(reader: ConfigReader(provider: EnvironmentVariablesProvider()))
try await app.runService()
