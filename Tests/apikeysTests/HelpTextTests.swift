import Foundation
import Testing
@testable import apikeys

@Suite("apikeys --help: a command's own options first")
struct HelpTextTests {
    static let help = """
        OVERVIEW: Revoke a key.

        USAGE: apikeys keys revoke [<options>] <key-id>

        ARGUMENTS:
          <key-id>

        GLOBAL OPTIONS:
          --server <host:port>    Server address.
          --json                  Print JSON.

        OPTIONS:
          --reason <reason>       Why.
          -h, --help              Show help information.

        """

    @Test("GLOBAL OPTIONS moves after OPTIONS; nothing else changes")
    func reordered() {
        let text = HelpText.ownOptionsFirst(Self.help)
        #expect(text == """
            OVERVIEW: Revoke a key.

            USAGE: apikeys keys revoke [<options>] <key-id>

            ARGUMENTS:
              <key-id>

            OPTIONS:
              --reason <reason>       Why.
              -h, --help              Show help information.

            GLOBAL OPTIONS:
              --server <host:port>    Server address.
              --json                  Print JSON.
            """)
    }

    @Test("before SUBCOMMANDS, which stays last")
    func subcommandsStayLast() {
        let text = HelpText.ownOptionsFirst(Self.help + "SUBCOMMANDS:\n  health                  Check.\n")
        let global = text.range(of: "GLOBAL OPTIONS:")!.lowerBound
        #expect(text.range(of: "OPTIONS:\n  --reason")!.lowerBound < global)
        #expect(global < text.range(of: "SUBCOMMANDS:")!.lowerBound)
    }

    @Test("a text without the section is returned as it is")
    func untouched() {
        let text = "OVERVIEW: x\n\nOPTIONS:\n  -h, --help  Show help information.\n"
        #expect(HelpText.ownOptionsFirst(text) == text)
    }
}
