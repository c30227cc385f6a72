import Crypto
import Hummingbird
import Testing

import HummingbirdMultiRegion
import MultiRegion

@Suite("Signed cookies and WAL positions")
struct CookieAndLSNTests {
    let signer = CookieSigner(key: SymmetricKey(size: .bits256))

    @Test("A signed value verifies; a tampered or foreign one does not")
    func signing() {
        let cookie = signer.sign("0/16B3748", purpose: "wal")
        #expect(signer.verify(cookie, purpose: "wal") == "0/16B3748")
        #expect(signer.verify(cookie, purpose: "flash") == nil)
        #expect(signer.verify(cookie.replacingOccurrences(of: "MC", with: "MQ"), purpose: "wal") == nil)
        #expect(CookieSigner(key: SymmetricKey(size: .bits256)).verify(cookie, purpose: "wal") == nil)
        for junk in ["", ".", "abc", "a.b.c", "%%%.###", String(repeating: "A", count: 10_000) + ".x"] {
            #expect(signer.verify(junk, purpose: "wal") == nil)
        }
    }

    @Test("LSNs parse, print and compare like Postgres's")
    func lsn() throws {
        let lsn = try #require(LSN("16/B374D848"))
        #expect(lsn.value == 0x16_B374_D848)
        #expect(lsn.description == "16/B374D848")
        #expect(LSN("0/1")! < LSN("0/10")!)
        #expect(LSN("1/0")! > LSN("0/FFFFFFFF")!)
        for bad in ["", "16", "16/", "/1", "x/1", "1/2/3", "123456789/0"] {
            #expect(LSN(bad) == nil)
        }
    }
}
